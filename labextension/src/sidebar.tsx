/**
 * The "ML Deploy" left-sidebar panel: a ReactWidget over the `SidebarModel`, whose timer runs
 * only while the panel is visible (shown: refreshed; hidden: nothing is fetched).
 */
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { Button, ErrorBox } from './common';
import { DeploySection, IFilePicker } from './deploy';
import { SidebarModel } from './model';
import { ModelsSection } from './models';
import { IServiceActions, ServicesSection } from './services';

/** The id of the sidebar widget (its tab in the left area carries it as `data-id`). */
export const SIDEBAR_ID = 'jp-mldeploy-sidebar';

export class MLDeploySidebar extends ReactWidget {
  constructor(
    readonly model: SidebarModel,
    private readonly _env: IServiceActions & IFilePicker
  ) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-MLDeploy-sidebar');
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setActive(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setActive(false);
  }

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <SidebarView model={this.model} env={this._env} />}
      </UseSignal>
    );
  }
}

function SidebarView(props: {
  model: SidebarModel;
  env: IServiceActions & IFilePicker;
}): JSX.Element {
  const { model, env } = props;
  return (
    <div className="jp-MLDeploy-root">
      <header className="jp-MLDeploy-header">
        <h2>ML Deploy</h2>
        <Button
          label="Refresh"
          title="Read the registry and the services again"
          onClick={() => void model.refresh()}
        />
      </header>
      <ErrorBox error={model.versionProblem} />
      <ModelsSection model={model} />
      <ServicesSection model={model} actions={env} />
      <DeploySection model={model} files={env} />
    </div>
  );
}
