/**
 * The payloads of the jupyter_mldeploy server extension's REST API (`/mldeploy/api/`),
 * in one module: what each route answers and what the POST routes take.
 *
 * They mirror the Python side (`jupyter_mldeploy/labapi`), which builds them from the core
 * objects' `to_dict()`; `docs/jupyterlab.md` documents every field.
 */

/** The extension's id (the plugin and the sidebar are named after it). */
export const PLUGIN_ID = 'jupyter-mldeploy:plugin';

/** The server extension's namespace below Jupyter's base URL. */
export const API_NAMESPACE = 'mldeploy/api';

/** The REST API version this frontend speaks (`GET version` answers the server's). */
export const API_VERSION = 1;

/** Command ids (palette, menus, file-browser context menu). */
export namespace CommandIDs {
  export const open = 'mldeploy:open';
  export const refresh = 'mldeploy:refresh';
  export const newDeployment = 'mldeploy:new-deployment';
  export const deployEntryScript = 'mldeploy:deploy-entry-script';
  export const insertCell = 'mldeploy:insert-service-cell';
}

/** Every error answer: `{"message", "reason"}` (reason: the core error's class name). */
export interface IErrorReply {
  message: string;
  reason: string;
}

/** `GET version`. */
export interface IVersionInfo {
  server: string;
  frontend: string | null;
  api: number;
}

/** `GET targets`: where a deployment with no chosen target runs, and why. */
export interface ITargets {
  default: string;
  docker_available: boolean;
  reason: string;
  message: string;
  targets: string[];
}

/** One stored file of a model version. */
export interface IModelFile {
  path: string;
  size: number;
  size_text: string;
  sha256: string;
}

/** A model version (`ModelVersion.to_dict()`); `files` in details, `file_count` in lists. */
export interface IModelVersion {
  id: string;
  name: string;
  version: number;
  kind: string;
  created_time: string;
  description: string | null;
  tags: Record<string, string>;
  properties: Record<string, string>;
  framework: string | null;
  framework_version: string | null;
  size: number;
  size_text: string;
  files?: IModelFile[];
  file_count?: number;
}

/** A model in `GET models`: its versions (newest first) and its newest version. */
export interface IModelGroup {
  name: string;
  versions: number[];
  latest: IModelVersion;
}

/** `GET models`. */
export interface IModelList {
  models: IModelGroup[];
  total: number;
}

/** `GET models/NAME`. */
export interface IModelDetail {
  name: string;
  versions: IModelVersion[];
}

/** Azure ML's service states. */
export type ServiceState =
  | 'Transitioning'
  | 'Healthy'
  | 'Unhealthy'
  | 'Failed'
  | 'Deleted';

/** A service (`Webservice.to_dict()`, state probed when asked). */
export interface IService {
  name: string;
  compute_type: string;
  state: ServiceState;
  scoring_uri: string | null;
  swagger_uri: string | null;
  port: number | null;
  models: string[];
  auth_enabled: boolean;
  debug: boolean;
  created_time: string;
  updated_time: string;
  error: string | null;
}

/** `GET services`. */
export interface IServiceList {
  services: IService[];
}

/** A phase of a deployment, reload or update. */
export interface IPhase {
  name: string;
  started: number;
  ended: number | null;
  ok: boolean | null;
  detail: string;
  seconds: number;
}

/** `GET services/NAME`: the service, its last phases, its entry script (root-relative). */
export interface IServiceDetail extends IService {
  phases: IPhase[];
  entry_script: string;
}

/** `GET services/NAME/logs?tail=N`. */
export interface ILogs {
  name: string;
  tail: number;
  text: string;
}

/** `GET services/NAME/example`: the body a test request starts with. */
export interface IExample {
  example: unknown;
  body: string;
  note: string;
}

/** `GET services/NAME/snippet`: a notebook cell calling the service. */
export interface ISnippet {
  name: string;
  code: string;
}

/** `POST services/NAME/score` takes this. */
export interface IScoreRequest {
  body: string;
  content_type?: string;
  headers?: Record<string, string>;
  method?: 'POST' | 'GET';
}

/** `POST services/NAME/score` answers the service's answer, summarised. */
export interface IScoreResult {
  status: number;
  latency_ms: number;
  headers: Record<string, string>;
  content_type: string;
  server_ms: number | null;
  size: number;
  text: string | null;
  truncated: boolean;
  binary: boolean;
  hex: string | null;
}

/** `POST deployments` takes the parameters of `%deploy_local` (paths relative to the Jupyter root). */
export interface IDeployRequest {
  name: string;
  models: string[];
  entry_script: string;
  source_dir?: string | null;
  env_file?: string | null;
  target?: string | null;
  port?: number | string | null;
  overwrite?: boolean;
  auth_enabled?: boolean;
}

/** `POST deployments` answers 202 with the new service (Transitioning) and where its progress is. */
export interface IDeployAccepted {
  service: IService;
  progress: string;
}

/** One thing that happened during an operation. */
export interface IProgressEvent {
  seq: number;
  kind: 'phase-start' | 'phase-end' | 'line' | 'finished';
  phase: string;
  text: string;
  time: number;
}

/** `GET deployments/NAME/progress?since=N`. */
export interface IProgress {
  name: string;
  live: boolean;
  done: boolean;
  ok: boolean | null;
  error: string | null;
  state: ServiceState;
  phases: IPhase[];
  events: IProgressEvent[];
  next: number;
}
