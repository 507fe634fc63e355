/**
 * The Models section: registered models (name, versions, tags, size), filtered by the
 * server, and a model's files when it is opened.
 */
import * as React from 'react';

import { ErrorBox, Note, Section, Button } from './common';
import { SidebarModel } from './model';
import { ApiError, requestAPI, segment } from './request';
import { IModelDetail, IModelGroup, IModelVersion } from './tokens';

export function ModelsSection(props: { model: SidebarModel }): JSX.Element {
  const { model } = props;
  const fetched = model.models;
  return (
    <Section
      title="Models"
      count={fetched.items ? fetched.items.length : null}
      className="jp-MLDeploy-models"
    >
      <ModelFilter model={model} />
      <ErrorBox error={fetched.error} />
      {fetched.items === null && !fetched.error && (
        <Note>Loading the registry…</Note>
      )}
      {fetched.items !== null && fetched.items.length === 0 && (
        <Note>
          {model.modelTotal === 0
            ? 'No models registered yet. Register one from a notebook with Model.register(...) ' +
              'or from a terminal with: mldeploy models register PATH --name NAME'
            : `No model matches this filter (${model.modelTotal} registered): clear it to see them all.`}
        </Note>
      )}
      <ul className="jp-MLDeploy-list">
        {(fetched.items ?? []).map(group => (
          <ModelItem key={group.name} group={group} model={model} />
        ))}
      </ul>
    </Section>
  );
}

function ModelFilter(props: { model: SidebarModel }): JSX.Element {
  const [q, setQ] = React.useState(props.model.filter.q);
  const [tags, setTags] = React.useState(props.model.filter.tags);
  React.useEffect(() => {
    const timer = window.setTimeout(() => props.model.setFilter({ q, tags }), 250);
    return () => window.clearTimeout(timer);
  }, [q, tags]);
  return (
    <div className="jp-MLDeploy-filter">
      <input
        className="jp-mod-styled jp-MLDeploy-input"
        placeholder="Filter by name"
        aria-label="Filter models by name"
        value={q}
        onChange={e => setQ(e.target.value)}
      />
      <input
        className="jp-mod-styled jp-MLDeploy-input"
        placeholder="Tags: stage=prod, team"
        aria-label="Filter models by tags"
        value={tags}
        onChange={e => setTags(e.target.value)}
      />
    </div>
  );
}

function Tags(props: { tags: Record<string, string> }): JSX.Element | null {
  const entries = Object.entries(props.tags);
  if (entries.length === 0) {
    return null;
  }
  return (
    <span className="jp-MLDeploy-tags">
      {entries.map(([key, value]) => (
        <span key={key} className="jp-MLDeploy-tag">
          {value ? `${key}=${value}` : key}
        </span>
      ))}
    </span>
  );
}

function ModelItem(props: {
  group: IModelGroup;
  model: SidebarModel;
}): JSX.Element {
  const { group } = props;
  const latest = group.latest;
  const [open, setOpen] = React.useState(false);
  return (
    <li className="jp-MLDeploy-item jp-MLDeploy-modelItem" data-model={group.name}>
      <div
        className="jp-MLDeploy-row"
        onClick={() => setOpen(!open)}
        title="Show the files of this model"
      >
        <span className="jp-MLDeploy-caret">{open ? '▾' : '▸'}</span>
        <span className="jp-MLDeploy-name">{group.name}</span>
        <span className="jp-MLDeploy-versions">
          {group.versions.map(v => `v${v}`).join(' · ')}
        </span>
        <span className="jp-MLDeploy-size">{latest.size_text}</span>
      </div>
      <div className="jp-MLDeploy-subrow">
        <Tags tags={latest.tags} />
        {latest.description && (
          <span className="jp-MLDeploy-description">{latest.description}</span>
        )}
      </div>
      {open && <ModelFiles group={group} model={props.model} />}
    </li>
  );
}

function ModelFiles(props: {
  group: IModelGroup;
  model: SidebarModel;
}): JSX.Element {
  const { group } = props;
  const [detail, setDetail] = React.useState<IModelDetail | null>(null);
  const [error, setError] = React.useState<ApiError | null>(null);
  const [version, setVersion] = React.useState(group.latest.version);
  React.useEffect(() => {
    requestAPI<IModelDetail>(`models/${segment(group.name)}`)
      .then(setDetail)
      .catch(setError);
  }, [group.name, group.versions.join(',')]);
  const shown: IModelVersion | undefined = detail?.versions.find(
    v => v.version === version
  );
  return (
    <div className="jp-MLDeploy-detail jp-MLDeploy-modelFiles">
      <ErrorBox error={error} />
      {!detail && !error && <Note>Loading its files…</Note>}
      {detail && (
        <>
          <div className="jp-MLDeploy-fieldRow">
            <label>
              Version{' '}
              <select
                className="jp-mod-styled"
                value={version}
                onChange={e => setVersion(Number(e.target.value))}
              >
                {detail.versions.map(v => (
                  <option key={v.version} value={v.version}>
                    v{v.version} ({v.created_time.slice(0, 16).replace('T', ' ')})
                  </option>
                ))}
              </select>
            </label>
            <Button
              label="Deploy…"
              title="Open the Deploy form for this version"
              onClick={() =>
                props.model.openDeployForm({
                  model: `${group.name}:${version}`
                })
              }
            />
          </div>
          {shown && (
            <table className="jp-MLDeploy-files">
              <tbody>
                {(shown.files ?? []).map(file => (
                  <tr key={file.path}>
                    <td className="jp-MLDeploy-path">{file.path}</td>
                    <td className="jp-MLDeploy-size">{file.size_text}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {shown && <Tags tags={shown.tags} />}
        </>
      )}
    </div>
  );
}
