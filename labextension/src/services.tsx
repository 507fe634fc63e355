/**
 * The Services section: every deployed service with its state, target, port and scoring URI;
 * opened, a service offers its actions, a test request and its log tail.
 */
import * as React from 'react';

import { Button, ErrorBox, Note, Section, StateBadge } from './common';
import { SidebarModel } from './model';
import { ApiError, apiUrl, requestAPI, segment } from './request';
import { LogTail, TestRequest } from './testing';
import { IService, IServiceDetail } from './tokens';

/** What the services need from JupyterLab (dialogs, the clipboard, notebooks). */
export interface IServiceActions {
  confirm(title: string, body: string, action: string): Promise<boolean>;
  copy(text: string): void;
  insertCell(name: string): Promise<void>;
}

export function ServicesSection(props: {
  model: SidebarModel;
  actions: IServiceActions;
}): JSX.Element {
  const fetched = props.model.services;
  return (
    <Section
      title="Services"
      count={fetched.items ? fetched.items.length : null}
      className="jp-MLDeploy-services"
    >
      <ErrorBox error={fetched.error} />
      {fetched.items === null && !fetched.error && (
        <Note>Loading the services…</Note>
      )}
      {fetched.items !== null && fetched.items.length === 0 && (
        <Note>
          No services deployed. Deploy a model with the form below, with %deploy_local in a
          notebook, or with mldeploy deploy in a terminal.
        </Note>
      )}
      <ul className="jp-MLDeploy-list">
        {(fetched.items ?? []).map(service => (
          <ServiceItem
            key={service.name}
            service={service}
            model={props.model}
            actions={props.actions}
          />
        ))}
      </ul>
    </Section>
  );
}

function ServiceItem(props: {
  service: IService;
  model: SidebarModel;
  actions: IServiceActions;
}): JSX.Element {
  const { service } = props;
  const [open, setOpen] = React.useState(false);
  return (
    <li
      className="jp-MLDeploy-item jp-MLDeploy-serviceItem"
      data-service={service.name}
      data-state={service.state}
    >
      <div className="jp-MLDeploy-row" onClick={() => setOpen(!open)}>
        <span className="jp-MLDeploy-caret">{open ? '▾' : '▸'}</span>
        <StateBadge state={service.state} />
        <span className="jp-MLDeploy-name">{service.name}</span>
        <span className="jp-MLDeploy-target">
          {service.compute_type}
          {service.port ? ` :${service.port}` : ''}
        </span>
      </div>
      <div className="jp-MLDeploy-subrow">
        <code className="jp-MLDeploy-uri">
          {service.scoring_uri ?? '(no port yet)'}
        </code>
        <span className="jp-MLDeploy-serviceModels">
          {service.models.join(', ')}
        </span>
      </div>
      {service.error && service.state !== 'Healthy' && (
        <ErrorBox error={service.error} />
      )}
      {open && (
        <ServiceDetail
          service={service}
          model={props.model}
          actions={props.actions}
        />
      )}
    </li>
  );
}

type Tab = 'test' | 'logs';

function ServiceDetail(props: {
  service: IService;
  model: SidebarModel;
  actions: IServiceActions;
}): JSX.Element {
  const { service, model, actions } = props;
  const name = service.name;
  const [detail, setDetail] = React.useState<IServiceDetail | null>(null);
  const [error, setError] = React.useState<ApiError | null>(null);
  const [busy, setBusy] = React.useState<string | null>(null);
  const [note, setNote] = React.useState<string | null>(null);
  const [tab, setTab] = React.useState<Tab>('test');

  const load = () =>
    requestAPI<IServiceDetail>(`services/${segment(name)}`)
      .then(d => {
        setDetail(d);
        setError(null);
      })
      .catch(setError);
  React.useEffect(() => {
    void load();
  }, [name, service.state, service.updated_time]);

  const run = async (what: string, work: () => Promise<void>) => {
    setBusy(what);
    setError(null);
    setNote(null);
    try {
      await work();
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(null);
    }
  };

  const reload = () =>
    run('Reloading…', async () => {
      const after = await requestAPI<IServiceDetail>(
        `services/${segment(name)}/reload`,
        { method: 'POST' }
      );
      setDetail(after);
      setNote(`Reloaded: ${after.state}.`);
      await model.refreshServices();
    });

  const remove = async () => {
    const sure = await actions.confirm(
      `Delete ${name}?`,
      `The service ${name} is stopped and removed; its port ${service.port ?? ''} is freed.`,
      'Delete'
    );
    if (sure) {
      await run('Deleting…', async () => {
        await requestAPI(`services/${segment(name)}`, { method: 'DELETE' });
        await model.refreshServices();
      });
    }
  };

  return (
    <div className="jp-MLDeploy-detail jp-MLDeploy-serviceDetail">
      <div className="jp-MLDeploy-actions">
        <Button
          label="Copy URI"
          title="Copy the scoring URI to the clipboard"
          disabled={!service.scoring_uri}
          onClick={() => {
            actions.copy(service.scoring_uri ?? '');
            setNote(`Copied ${service.scoring_uri}`);
          }}
        />
        <Button
          label="swagger.json"
          title="Open the service's swagger.json in a new browser tab"
          disabled={!service.port}
          onClick={() =>
            window.open(apiUrl(`services/${segment(name)}/swagger.json`), '_blank')
          }
        />
        <Button
          label="Insert cell"
          title="Insert a code cell that calls this service into the active notebook"
          onClick={() =>
            void run('Inserting…', async () => {
              await actions.insertCell(name);
              setNote('Inserted a code cell calling this service into the notebook.');
            })
          }
        />
        <Button
          label="Reload"
          title="Restart the server on the current code and models (runs init() again)"
          disabled={busy !== null}
          onClick={() => void reload()}
        />
        <Button
          label="Delete"
          danger
          title="Stop and remove this service"
          disabled={busy !== null}
          onClick={() => void remove()}
        />
      </div>
      {busy && <Note>{busy}</Note>}
      {note && <div className="jp-MLDeploy-success">{note}</div>}
      <ErrorBox error={error} />
      {detail && (
        <dl className="jp-MLDeploy-facts">
          <dt>Entry script</dt>
          <dd>{detail.entry_script}</dd>
          <dt>Models</dt>
          <dd>{detail.models.join(', ') || '(none)'}</dd>
          <dt>Auth</dt>
          <dd>{detail.auth_enabled ? 'key required' : 'off'}</dd>
          {detail.phases.length > 0 && (
            <>
              <dt>Last phases</dt>
              <dd>
                {detail.phases
                  .map(p => `${p.name} ${p.seconds.toFixed(2)}s${p.ok === false ? ' ✗' : ''}`)
                  .join(', ')}
              </dd>
            </>
          )}
        </dl>
      )}
      <div className="jp-MLDeploy-tabs" role="tablist">
        <button
          role="tab"
          aria-selected={tab === 'test'}
          className="jp-MLDeploy-tab"
          onClick={() => setTab('test')}
        >
          Test request
        </button>
        <button
          role="tab"
          aria-selected={tab === 'logs'}
          className="jp-MLDeploy-tab"
          onClick={() => setTab('logs')}
        >
          Log
        </button>
      </div>
      {tab === 'test' ? (
        <TestRequest name={name} />
      ) : (
        <LogTail name={name} model={model} />
      )}
    </div>
  );
}
