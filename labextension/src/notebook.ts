/**
 * Put code into the active notebook: a new code cell below the active cell.
 */
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';

/**
 * Insert `code` as a new code cell below the active cell of the current notebook.
 *
 * @throws Error - no notebook is open (the message says to open one)
 */
export function insertCodeCell(tracker: INotebookTracker, code: string): void {
  const panel = tracker.currentWidget;
  if (!panel) {
    throw new Error(
      'No notebook is open: open (or click into) a notebook, then insert the cell again.'
    );
  }
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  NotebookActions.changeCellType(notebook, 'code');
  const cell = notebook.activeCell;
  if (cell) {
    cell.model.sharedModel.setSource(code);
  }
  panel.activate();
}
