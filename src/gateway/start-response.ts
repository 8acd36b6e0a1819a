/**
 * The `startResponse` state machine (SPEC §3). A table says which call is legal in which
 * state; anything not in the table is an error. Nothing here touches the wire: the runner
 * reads `status` and `headers` at the commit point.
 */
import { HatchwayError } from '../wire/errors.ts';
import { parseStatus, validateHeaders } from '../protocol/headers.ts';
import type { HeaderList, StartResponse, Status } from './types.ts';

type State = 'idle' | 'started' | 'committed';
type Call = 'start' | 'replace';
type Outcome = 'record' | 'twice' | 'rethrow';

// state × call → outcome. `replace` is a call with excInfo.
const TRANSITIONS: Record<State, Record<Call, Outcome>> = {
  idle: { start: 'record', replace: 'record' },
  started: { start: 'twice', replace: 'record' },
  committed: { start: 'twice', replace: 'rethrow' },
};

/** The recorded response of one request, and the `startResponse` callable that fills it. */
export class ResponseState {
  /** `idle` (no `startResponse` yet), `started` (a status recorded; still replaceable with `excInfo`), `committed` (the head went out). */
  state: State = 'idle';
  /** The recorded status code; 0 until `startResponse` is called. */
  status = 0;
  /** The recorded reason phrase (`'404 Gone away'` gives `Gone away`), or `undefined`. */
  reason: string | undefined = undefined;
  /** The recorded header list, as the app gave it (validated). */
  headers: HeaderList = [];

  /**
   * The `startResponse` to hand the app: validates and records the status and headers; a
   * second call without `excInfo` throws `ERR_HATCHWAY_START_RESPONSE_TWICE`, and one with
   * `excInfo` after the commit rethrows it (SPEC §3).
   */
  readonly startResponse: StartResponse = (status: Status, headers: HeaderList, excInfo?: unknown): void => {
    const call: Call = excInfo === undefined || excInfo === null ? 'start' : 'replace';
    switch (TRANSITIONS[this.state][call]) {
      case 'twice':
        throw new HatchwayError('ERR_HATCHWAY_START_RESPONSE_TWICE');
      case 'rethrow':
        throw excInfo;
      case 'record': {
        const parsed = parseStatus(status);
        validateHeaders(headers, parsed.code);
        this.status = parsed.code;
        this.reason = parsed.reason;
        this.headers = headers;
        this.state = 'started';
      }
    }
  };

  /** Moves to `committed`; throws if startResponse was never called. */
  commit(): void {
    if (this.state === 'idle') throw new HatchwayError('ERR_HATCHWAY_NO_START_RESPONSE');
    this.state = 'committed';
  }
}
