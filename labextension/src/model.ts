/**
 * The sidebar's state and its one timer: what the server answered last, and when to ask again.
 *
 * The timer runs only while the sidebar is visible (`setActive`); each tick refreshes the
 * services (and, less often, the models), advances a running deployment's progress, and
 * tells open views (a log tail) to refresh through `ticked`. Hidden, nothing is fetched.
 * Every answer comes from the server extension: no rule of the Python side is repeated here.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, requestAPI, segment } from './request';
import {
  API_VERSION,
  IDeployAccepted,
  IDeployRequest,
  IModelGroup,
  IModelList,
  IProgress,
  IProgressEvent,
  IService,
  IServiceList,
  ITargets,
  IVersionInfo
} from './tokens';

/** Milliseconds between ticks while the sidebar is visible. */
export const TICK_MS = 1000;
/** Ticks between two refreshes of the services list (and of open log views). */
export const SERVICE_TICKS = 2;
/** Ticks between two refreshes of the models list. */
export const MODEL_TICKS = 10;

// eslint-disable-next-line @typescript-eslint/no-var-requires
declare function require(name: string): any;
/** The version of this frontend bundle. */
export const FRONTEND_VERSION: string = require('../package.json').version;

/** A deployment started from the Deploy form, followed until it ends. */
export interface IFollowed {
  name: string;
  progress: IProgress | null;
  events: IProgressEvent[];
  error: string | null;
}

/** What the Deploy form opens with (e.g. the entry script picked in the file browser). */
export interface IDeployPrefill {
  entryScript?: string;
  model?: string;
  serial: number;
}

/** A list fetched from the server: not yet, its items, or why not. */
export interface IFetched<T> {
  items: T[] | null;
  error: ApiError | null;
}

export class SidebarModel {
  readonly models: IFetched<IModelGroup> = { items: null, error: null };
  /** How many models are registered, whatever the filter. */
  modelTotal = 0;
  /** The models filter: names containing `q`; tags as the CLI takes them (`stage=prod, team`). */
  filter = { q: '', tags: '' };
  readonly services: IFetched<IService> = { items: null, error: null };
  targets: ITargets | null = null;
  targetsError: ApiError | null = null;
  /** Why the server and this page do not fit together (missing extension, other versions), or null. */
  versionProblem: string | null = null;
  followed: IFollowed | null = null;
  deployPrefill: IDeployPrefill | null = null;
  /** Ticks run so far (the browser tests watch requests; this is for the views). */
  ticks = 0;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted on every tick that refreshes services: open views refresh their own data then. */
  get ticked(): ISignal<this, void> {
    return this._ticked;
  }

  get active(): boolean {
    return this._active;
  }

  /** Start the timer (and refresh at once) when the sidebar shows; stop it when hidden. */
  setActive(active: boolean): void {
    if (active === this._active) {
      return;
    }
    this._active = active;
    if (active) {
      if (!this._versionChecked) {
        void this.checkVersion();
      }
      void this.refresh();
      void this.refreshTargets();
      this._schedule();
    } else if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  dispose(): void {
    this.setActive(false);
    Signal.clearData(this);
  }

  /** Refresh the services and the models now. */
  async refresh(): Promise<void> {
    await Promise.all([this.refreshServices(), this.refreshModels()]);
  }

  async refreshServices(): Promise<void> {
    await this._fetch(this.services, async () =>
      (await requestAPI<IServiceList>('services')).services
    );
  }

  async refreshModels(): Promise<void> {
    const query = new URLSearchParams(this.filter).toString();
    await this._fetch(this.models, async () => {
      const answer = await requestAPI<IModelList>(`models?${query}`);
      this.modelTotal = answer.total;
      return answer.models;
    });
  }

  /** Change the models filter and refresh the list. */
  setFilter(filter: { q?: string; tags?: string }): void {
    this.filter = { ...this.filter, ...filter };
    void this.refreshModels();
  }

  async refreshTargets(): Promise<void> {
    try {
      this.targets = await requestAPI<ITargets>('targets');
      this.targetsError = null;
    } catch (error) {
      this.targetsError = error as ApiError;
    }
    this._changed.emit();
  }

  /** Compare the server's versions with this page's (a mismatch reads as what to do). */
  async checkVersion(): Promise<void> {
    try {
      const info = await requestAPI<IVersionInfo>('version');
      this._versionChecked = true;
      this.versionProblem = versionProblem(info);
    } catch (error) {
      this.versionProblem = (error as ApiError).message;
    }
    this._changed.emit();
  }

  /** Open the Deploy form, prefilled (the file browser's "Deploy this entry script"). */
  openDeployForm(prefill: { entryScript?: string; model?: string } = {}): void {
    this.deployPrefill = { ...prefill, serial: (this.deployPrefill?.serial ?? 0) + 1 };
    this._changed.emit();
  }

  /** Start a deployment and follow its progress on each tick; throws the server's error. */
  async deploy(request: IDeployRequest): Promise<void> {
    const accepted = await requestAPI<IDeployAccepted>('deployments', {
      method: 'POST',
      body: request
    });
    this.followed = {
      name: accepted.service.name,
      progress: null,
      events: [],
      error: null
    };
    this._changed.emit();
    await Promise.all([this.advance(), this.refreshServices()]);
  }

  /** Fetch the followed deployment's new progress events (once). */
  async advance(): Promise<void> {
    const followed = this.followed;
    if (!followed || followed.progress?.done) {
      return;
    }
    const since = followed.progress?.next ?? 0;
    try {
      const progress = await requestAPI<IProgress>(
        `deployments/${segment(followed.name)}/progress?since=${since}`
      );
      followed.progress = progress;
      followed.events = followed.events.concat(progress.events);
      followed.error = null;
      if (progress.done) {
        void this.refreshServices();
      }
    } catch (error) {
      followed.error = (error as ApiError).message;
    }
    this._changed.emit();
  }

  /** Stop showing the followed deployment. */
  dismissFollowed(): void {
    this.followed = null;
    this._changed.emit();
  }

  private async _fetch<T>(
    into: IFetched<T>,
    get: () => Promise<T[]>
  ): Promise<void> {
    try {
      into.items = await get();
      into.error = null;
    } catch (error) {
      into.error = error as ApiError;
    }
    this._changed.emit();
  }

  private _schedule(): void {
    this._timer = window.setTimeout(() => void this._tick(), TICK_MS);
  }

  private async _tick(): Promise<void> {
    this._timer = null;
    if (!this._active) {
      return;
    }
    this.ticks += 1;
    const work: Promise<void>[] = [this.advance()];
    if (this.ticks % SERVICE_TICKS === 0) {
      work.push(this.refreshServices());
      this._ticked.emit();
    }
    if (this.ticks % MODEL_TICKS === 0) {
      work.push(this.refreshModels());
    }
    await Promise.all(work);
    if (this._active && this._timer === null) {
      this._schedule();
    }
  }

  private _active = false;
  private _versionChecked = false;
  private _timer: number | null = null;
  private _changed = new Signal<this, void>(this);
  private _ticked = new Signal<this, void>(this);
}

/** What is wrong between the server's versions and this page's, or null when they fit. */
export function versionProblem(info: IVersionInfo): string | null {
  if (info.api !== API_VERSION) {
    return (
      `The server's ML Deploy API is version ${info.api} but this page speaks version ${API_VERSION}: ` +
      'reload the page; if that does not help, reinstall jupyter-mldeploy and restart JupyterLab.'
    );
  }
  if (info.server !== FRONTEND_VERSION) {
    return (
      `This page runs the ML Deploy sidebar ${FRONTEND_VERSION} but the server has jupyter-mldeploy ` +
      `${info.server} (its installed sidebar: ${info.frontend ?? 'none'}): reload the page; if that does ` +
      'not help, reinstall jupyter-mldeploy and restart JupyterLab.'
    );
  }
  return null;
}
