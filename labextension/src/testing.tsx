/**
 * A service's test request (a JSON editor prefilled from its swagger example; the answer's
 * status, latency and body) and its log tail (refreshed on the sidebar's ticks).
 */
import * as React from 'react';

import { Button, ErrorBox, Note, StatusBadge, millis } from './common';
import { SidebarModel } from './model';
import { ApiError, requestAPI, segment } from './request';
import { IExample, ILogs, IScoreResult } from './tokens';

const CONTENT_TYPES = ['application/json', 'text/plain'];

export function TestRequest(props: { name: string }): JSX.Element {
  const { name } = props;
  const [body, setBody] = React.useState<string | null>(null);
  const [contentType, setContentType] = React.useState(CONTENT_TYPES[0]);
  const [exampleNote, setExampleNote] = React.useState<string>('');
  const [result, setResult] = React.useState<IScoreResult | null>(null);
  const [error, setError] = React.useState<ApiError | null>(null);
  const [sending, setSending] = React.useState(false);

  const loadExample = () =>
    requestAPI<IExample>(`services/${segment(name)}/example`)
      .then(example => {
        setBody(example.body);
        setExampleNote(example.note);
      })
      .catch((e: ApiError) => {
        setBody(current => current ?? '{"data": []}');
        setExampleNote(e.message);
      });
  React.useEffect(() => {
    void loadExample();
  }, [name]);

  const send = async () => {
    setSending(true);
    setError(null);
    try {
      setResult(
        await requestAPI<IScoreResult>(`services/${segment(name)}/score`, {
          method: 'POST',
          body: { body: body ?? '', content_type: contentType }
        })
      );
    } catch (e) {
      setResult(null);
      setError(e as ApiError);
    } finally {
      setSending(false);
    }
  };

  return (
    <div className="jp-MLDeploy-testRequest">
      {body === null ? (
        <Note>Loading the swagger example…</Note>
      ) : (
        <>
          <textarea
            className="jp-MLDeploy-editor"
            aria-label="Request body"
            spellCheck={false}
            rows={Math.min(12, Math.max(4, body.split('\n').length))}
            value={body}
            onChange={e => setBody(e.target.value)}
          />
          <div className="jp-MLDeploy-note">{exampleNote}</div>
          <div className="jp-MLDeploy-fieldRow">
            <select
              className="jp-mod-styled"
              aria-label="Content type"
              value={contentType}
              onChange={e => setContentType(e.target.value)}
            >
              {CONTENT_TYPES.map(t => (
                <option key={t}>{t}</option>
              ))}
            </select>
            <Button
              label={sending ? 'Sending…' : 'Send'}
              primary
              disabled={sending}
              onClick={() => void send()}
            />
            <Button
              label="Example"
              title="Put the service's swagger example back into the editor"
              onClick={() => void loadExample()}
            />
          </div>
        </>
      )}
      <ErrorBox error={error} />
      {result && <ScoreAnswer result={result} />}
    </div>
  );
}

function ScoreAnswer(props: { result: IScoreResult }): JSX.Element {
  const { result } = props;
  return (
    <div className="jp-MLDeploy-answer" data-status={result.status}>
      <div className="jp-MLDeploy-answerLine">
        <StatusBadge status={result.status} />
        <b>{millis(result.latency_ms)}</b>
        {result.server_ms !== null && (
          <span> (run() {millis(result.server_ms)} on the server)</span>
        )}
        <span>
          {' '}
          · {result.size} bytes · {result.content_type || 'no content type'}
        </span>
      </div>
      {result.binary ? (
        <>
          <div className="jp-MLDeploy-note">
            Binary body, {result.size} bytes; its first bytes:
          </div>
          <pre className="jp-MLDeploy-body">{result.hex}</pre>
        </>
      ) : (
        <pre className="jp-MLDeploy-body">{result.text || '(empty body)'}</pre>
      )}
      {result.truncated && (
        <div className="jp-MLDeploy-note">
          (only the start of the {result.size}-byte body is shown)
        </div>
      )}
    </div>
  );
}

export function LogTail(props: {
  name: string;
  model: SidebarModel;
}): JSX.Element {
  const { name, model } = props;
  const [logs, setLogs] = React.useState<string | null>(null);
  const [error, setError] = React.useState<ApiError | null>(null);
  const pre = React.useRef<HTMLPreElement>(null);
  React.useEffect(() => {
    const load = () =>
      requestAPI<ILogs>(`services/${segment(name)}/logs?tail=200`)
        .then(answer => {
          setLogs(answer.text);
          setError(null);
        })
        .catch(setError);
    void load();
    const onTick = () => void load();
    model.ticked.connect(onTick);
    return () => {
      model.ticked.disconnect(onTick);
    };
  }, [name]);
  React.useEffect(() => {
    if (pre.current) {
      pre.current.scrollTop = pre.current.scrollHeight;
    }
  }, [logs]);
  return (
    <div className="jp-MLDeploy-logs">
      <ErrorBox error={error} />
      {logs === null && !error && <Note>Loading the log…</Note>}
      {logs !== null && (
        <pre ref={pre} className="jp-MLDeploy-log">
          {logs || '(the log is empty)'}
        </pre>
      )}
    </div>
  );
}
