/**
 * The one request helper: every call to the server extension goes through `requestAPI`.
 *
 * Jupyter's `ServerConnection` adds the token or XSRF header; an error answer becomes an
 * `ApiError` carrying the server's `{"message", "reason"}`; a 404 that is not the
 * extension's own JSON means the server extension is not loaded at all.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { API_NAMESPACE, IErrorReply } from './tokens';

/** Reason of the error raised when the server extension does not answer. */
export const NO_SERVER_EXTENSION = 'ServerExtensionMissing';

/** What to do when the server extension is missing (the sidebar shows it). */
export const NO_SERVER_EXTENSION_MESSAGE =
  'The jupyter_mldeploy server extension is not loaded in this Jupyter server: ' +
  'run pip install jupyter-mldeploy (or pip install -e . in its checkout) in the ' +
  "server's environment, check `jupyter server extension list`, then restart JupyterLab.";

/** An error answer of the server extension (or no answer at all). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly reason: string,
    readonly status: number
  ) {
    super(message);
  }
}

let defaultSettings: ServerConnection.ISettings | null = null;

function settings(): ServerConnection.ISettings {
  if (!defaultSettings) {
    defaultSettings = ServerConnection.makeSettings();
  }
  return defaultSettings;
}

/** The absolute URL of a route (e.g. to open `services/NAME/swagger.json` in a tab). */
export function apiUrl(endPoint: string): string {
  return URLExt.join(settings().baseUrl, API_NAMESPACE, endPoint);
}

/** The path segment for a name (services and models may hold characters URLs reserve). */
export function segment(name: string): string {
  return encodeURIComponent(name);
}

/**
 * Call a route and return its JSON answer.
 *
 * @param endPoint - the route below `/mldeploy/api/`, e.g. `services` or `services/ridge/logs?tail=50`
 * @param init - fetch options; `body` may be any JSON-able value (sent as JSON)
 * @throws ApiError - the server answered an error, or could not be reached
 */
export async function requestAPI<T>(
  endPoint: string,
  init: { method?: string; body?: unknown } = {}
): Promise<T> {
  const request: RequestInit = { method: init.method ?? 'GET' };
  if (init.body !== undefined) {
    request.body = JSON.stringify(init.body);
    request.headers = { 'Content-Type': 'application/json' };
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      apiUrl(endPoint),
      request,
      settings()
    );
  } catch (error) {
    throw new ApiError(
      `The Jupyter server could not be reached (${String(error)}): is it still running?`,
      'NetworkError',
      0
    );
  }
  const text = await response.text();
  let data: unknown = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const reply = data as Partial<IErrorReply> | null;
    if (reply && typeof reply.message === 'string') {
      throw new ApiError(
        reply.message,
        reply.reason ?? 'Error',
        response.status
      );
    }
    if (response.status === 404) {
      throw new ApiError(NO_SERVER_EXTENSION_MESSAGE, NO_SERVER_EXTENSION, 404);
    }
    throw new ApiError(
      `The server answered ${response.status} ${response.statusText}.`,
      'HTTPError',
      response.status
    );
  }
  return data as T;
}
