/**
 * The Deploy section: a form with the parameters of `%deploy_local` (model, entry script picked
 * in the file browser, target, port, ...) and, once started, the deployment's phases and log.
 */
import * as React from 'react';

import { Button, ErrorBox, Note, Section, StateBadge } from './common';
import { IFollowed, SidebarModel } from './model';
import { ApiError } from './request';
import { IModelGroup } from './tokens';

/** What the form needs from JupyterLab: file dialogs over the Jupyter root. */
export interface IFilePicker {
  /** A file path relative to the Jupyter root, or null when cancelled. */
  pickFile(title: string, extensions: string[]): Promise<string | null>;
  /** A folder path relative to the Jupyter root, or null when cancelled. */
  pickFolder(title: string): Promise<string | null>;
}

interface IForm {
  model: string;
  name: string;
  entryScript: string;
  sourceDir: string;
  envFile: string;
  target: string;
  port: string;
  overwrite: boolean;
}

const EMPTY: IForm = {
  model: '',
  name: '',
  entryScript: '',
  sourceDir: '',
  envFile: '',
  target: '',
  port: '',
  overwrite: false
};

function modelOptions(groups: IModelGroup[]): [string, string][] {
  const options: [string, string][] = [];
  for (const group of groups) {
    options.push([group.name, `${group.name} (latest: v${group.versions[0]})`]);
    for (const version of group.versions) {
      options.push([`${group.name}:${version}`, `${group.name}:${version}`]);
    }
  }
  return options;
}

function defaultName(spec: string): string {
  return spec ? `${spec.split(':')[0]}-svc` : '';
}

export function DeploySection(props: {
  model: SidebarModel;
  files: IFilePicker;
}): JSX.Element {
  const { model, files } = props;
  const [form, setForm] = React.useState<IForm>(EMPTY);
  const [nameEdited, setNameEdited] = React.useState(false);
  const [error, setError] = React.useState<ApiError | null>(null);
  const [starting, setStarting] = React.useState(false);
  const prefill = model.deployPrefill;
  const sectionRef = React.useRef<HTMLDivElement>(null);

  const update = (change: Partial<IForm>) => {
    setForm(current => {
      const next = { ...current, ...change };
      if (change.model !== undefined && !nameEdited) {
        next.name = defaultName(change.model);
      }
      return next;
    });
  };

  // a new prefill (file browser's "Deploy this entry script", a model's "Deploy…")
  React.useEffect(() => {
    if (!prefill) {
      return;
    }
    const change: Partial<IForm> = {};
    if (prefill.entryScript !== undefined) {
      change.entryScript = prefill.entryScript;
    }
    if (prefill.model !== undefined) {
      change.model = prefill.model;
    }
    update(change);
    sectionRef.current?.scrollIntoView({ block: 'nearest' });
  }, [prefill?.serial]);

  // pick the first model when none is chosen yet
  const groups = model.models.items ?? [];
  React.useEffect(() => {
    if (!form.model && groups.length > 0) {
      update({ model: groups[0].name });
    }
  }, [groups.length]);

  const browse = async (field: 'entryScript' | 'envFile' | 'sourceDir') => {
    const picked =
      field === 'sourceDir'
        ? await files.pickFolder('Source folder')
        : field === 'entryScript'
          ? await files.pickFile('Entry script (init() and run())', ['.py'])
          : await files.pickFile('Environment file', ['.txt', '.yml', '.yaml']);
    if (picked !== null) {
      update({ [field]: picked });
    }
  };

  const submit = async () => {
    setError(null);
    setStarting(true);
    try {
      await model.deploy({
        name: form.name.trim(),
        models: form.model ? [form.model] : [],
        entry_script: form.entryScript.trim(),
        source_dir: form.sourceDir.trim() || null,
        env_file: form.envFile.trim() || null,
        target: form.target || null,
        port: form.port.trim() || null,
        overwrite: form.overwrite
      });
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setStarting(false);
    }
  };

  const targets = model.targets;
  return (
    <Section title="Deploy" className="jp-MLDeploy-deploy">
      <div ref={sectionRef} className="jp-MLDeploy-form">
        <label className="jp-MLDeploy-field">
          <span>Model</span>
          <select
            className="jp-mod-styled"
            aria-label="Model"
            value={form.model}
            onChange={e => update({ model: e.target.value })}
          >
            {groups.length === 0 && <option value="">(no model registered)</option>}
            {modelOptions(groups).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label className="jp-MLDeploy-field">
          <span>Service name</span>
          <input
            className="jp-mod-styled jp-MLDeploy-input"
            aria-label="Service name"
            value={form.name}
            onChange={e => {
              setNameEdited(true);
              update({ name: e.target.value });
            }}
          />
        </label>
        <PathField
          label="Entry script"
          value={form.entryScript}
          placeholder="app/score.py"
          onChange={v => update({ entryScript: v })}
          onBrowse={() => void browse('entryScript')}
        />
        <PathField
          label="Source folder"
          value={form.sourceDir}
          placeholder="optional: the script's folder"
          onChange={v => update({ sourceDir: v })}
          onBrowse={() => void browse('sourceDir')}
        />
        <PathField
          label="Environment"
          value={form.envFile}
          placeholder="optional: requirements.txt or conda .yml"
          onChange={v => update({ envFile: v })}
          onBrowse={() => void browse('envFile')}
        />
        <label className="jp-MLDeploy-field">
          <span>Target</span>
          <select
            className="jp-mod-styled"
            aria-label="Target"
            value={form.target}
            onChange={e => update({ target: e.target.value })}
          >
            <option value="">
              automatic{targets ? ` (${targets.default})` : ''}
            </option>
            {(targets?.targets ?? ['docker', 'process']).map(t => (
              <option
                key={t}
                value={t}
                disabled={t === 'docker' && targets !== null && !targets.docker_available}
              >
                {t}
              </option>
            ))}
          </select>
        </label>
        {targets && <Note>{targets.message}</Note>}
        <ErrorBox error={model.targetsError} />
        <label className="jp-MLDeploy-field">
          <span>Port</span>
          <input
            className="jp-mod-styled jp-MLDeploy-input"
            aria-label="Port"
            placeholder="blank: a free port"
            value={form.port}
            onChange={e => update({ port: e.target.value })}
          />
        </label>
        <label className="jp-MLDeploy-check">
          <input
            type="checkbox"
            checked={form.overwrite}
            onChange={e => update({ overwrite: e.target.checked })}
          />
          replace a service of the same name
        </label>
        <div className="jp-MLDeploy-fieldRow">
          <Button
            label={starting ? 'Starting…' : 'Deploy'}
            primary
            disabled={starting}
            onClick={() => void submit()}
          />
        </div>
        <ErrorBox error={error} />
      </div>
      {model.followed && (
        <ProgressView followed={model.followed} onDismiss={() => model.dismissFollowed()} />
      )}
    </Section>
  );
}

function PathField(props: {
  label: string;
  value: string;
  placeholder: string;
  onChange: (value: string) => void;
  onBrowse: () => void;
}): JSX.Element {
  return (
    <label className="jp-MLDeploy-field">
      <span>{props.label}</span>
      <span className="jp-MLDeploy-path">
        <input
          className="jp-mod-styled jp-MLDeploy-input"
          aria-label={props.label}
          placeholder={props.placeholder}
          value={props.value}
          onChange={e => props.onChange(e.target.value)}
        />
        <Button label="Browse…" onClick={props.onBrowse} title={`Pick the ${props.label.toLowerCase()} in the file browser`} />
      </span>
    </label>
  );
}

function mark(ok: boolean | null): string {
  return ok === true ? '✓' : ok === false ? '✗' : '…';
}

function ProgressView(props: {
  followed: IFollowed;
  onDismiss: () => void;
}): JSX.Element {
  const { followed } = props;
  const progress = followed.progress;
  const lines = followed.events.filter(e => e.kind === 'line');
  const logRef = React.useRef<HTMLPreElement>(null);
  React.useEffect(() => {
    if (logRef.current) {
      logRef.current.scrollTop = logRef.current.scrollHeight;
    }
  }, [lines.length]);
  return (
    <div className="jp-MLDeploy-progress" data-service={followed.name}>
      <div className="jp-MLDeploy-progressTitle">
        Deploying <b>{followed.name}</b>{' '}
        {progress && <StateBadge state={progress.state} />}
        {progress?.done && (
          <Button label="Dismiss" onClick={props.onDismiss} />
        )}
      </div>
      {!progress && <Note>Starting…</Note>}
      {progress && (
        <ol className="jp-MLDeploy-phases">
          {progress.phases.map(phase => (
            <li key={phase.name} data-ok={String(phase.ok)}>
              <span className="jp-MLDeploy-mark">{mark(phase.ok)}</span>{' '}
              <b>{phase.name}</b> {phase.seconds.toFixed(2)} s
              {phase.detail && <span className="jp-MLDeploy-phaseDetail"> {phase.detail}</span>}
            </li>
          ))}
        </ol>
      )}
      {lines.length > 0 && (
        <pre ref={logRef} className="jp-MLDeploy-log">
          {lines.map(e => e.text).join('\n')}
        </pre>
      )}
      {progress?.done && progress.ok && (
        <div className="jp-MLDeploy-success">
          {followed.name} is {progress.state}.
        </div>
      )}
      <ErrorBox error={progress?.error ?? followed.error} />
    </div>
  );
}
