/**
 * The "ML Deploy" JupyterLab extension: a left-sidebar panel over the jupyter_mldeploy server
 * extension, its command-palette entries, and the file browser's "Deploy this entry script".
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  Dialog,
  ICommandPalette,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { FileDialog, IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import iconSvg from '../style/icon.svg';
import { SidebarModel } from './model';
import { insertCodeCell } from './notebook';
import { requestAPI, segment } from './request';
import { MLDeploySidebar } from './sidebar';
import { CommandIDs, ISnippet, PLUGIN_ID } from './tokens';

const CATEGORY = 'ML Deploy';

export const mldeployIcon = new LabIcon({
  name: 'jupyter-mldeploy:rocket',
  svgstr: iconSvg
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'The ML Deploy sidebar: registered models and local web services (jupyter-mldeploy).',
  autoStart: true,
  requires: [IDocumentManager, INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    docManager: IDocumentManager,
    notebooks: INotebookTracker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    fileBrowser: IDefaultFileBrowser | null
  ) => {
    const model = new SidebarModel();

    const pick = async (
      title: string,
      accept: (name: string, type: string) => boolean,
      directory: boolean
    ): Promise<string | null> => {
      const options = {
        manager: docManager,
        title,
        defaultPath: fileBrowser?.model.path
      };
      const result = directory
        ? await FileDialog.getExistingDirectory(options)
        : await FileDialog.getOpenFiles({
            ...options,
            filter: item =>
              item.type === 'directory' || accept(item.name, item.type) ? {} : null
          });
      const chosen = result.button.accept ? result.value?.[0] : undefined;
      return chosen ? chosen.path : null;
    };

    const insertServiceCell = async (name: string): Promise<void> => {
      const snippet = await requestAPI<ISnippet>(`services/${segment(name)}/snippet`);
      insertCodeCell(notebooks, snippet.code);
    };

    const sidebar = new MLDeploySidebar(model, {
      confirm: async (title, body, action) =>
        (
          await showDialog({
            title,
            body,
            buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: action })]
          })
        ).button.accept,
      copy: text => Clipboard.copyToSystem(text),
      insertCell: insertServiceCell,
      pickFile: (title, extensions) =>
        pick(title, name => extensions.some(ext => name.endsWith(ext)), false),
      pickFolder: title => pick(title, () => false, true)
    });
    sidebar.title.icon = mldeployIcon;
    sidebar.title.caption = 'ML Deploy';
    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, 'jupyter-mldeploy-sidebar');

    const { commands } = app;
    commands.addCommand(CommandIDs.open, {
      label: 'ML Deploy: Show the models and services',
      caption: 'Open the ML Deploy sidebar',
      icon: mldeployIcon,
      execute: () => app.shell.activateById(sidebar.id)
    });
    commands.addCommand(CommandIDs.refresh, {
      label: 'ML Deploy: Refresh models and services',
      execute: () => model.refresh()
    });
    commands.addCommand(CommandIDs.newDeployment, {
      label: 'ML Deploy: Deploy a model…',
      execute: () => {
        app.shell.activateById(sidebar.id);
        model.openDeployForm();
      }
    });
    commands.addCommand(CommandIDs.deployEntryScript, {
      label: 'Deploy this entry script',
      caption: 'Open the ML Deploy form with this file as the entry script',
      icon: mldeployIcon,
      execute: () => {
        const item = fileBrowser?.selectedItems().next().value;
        if (!item) {
          return;
        }
        app.shell.activateById(sidebar.id);
        model.openDeployForm({ entryScript: item.path });
      }
    });
    commands.addCommand(CommandIDs.insertCell, {
      label: args =>
        `ML Deploy: Insert a code cell calling ${String(args.name ?? 'a service')}`,
      execute: async args => {
        try {
          await insertServiceCell(String(args.name ?? ''));
        } catch (error) {
          await showErrorMessage('ML Deploy', String((error as Error).message));
        }
      }
    });

    app.contextMenu.addItem({
      command: CommandIDs.deployEntryScript,
      selector: '.jp-DirListing-item[data-file-type="python"]',
      rank: 20
    });
    if (palette) {
      for (const command of [CommandIDs.open, CommandIDs.refresh, CommandIDs.newDeployment]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }
  }
};

export default plugin;
