/** The shapes the runner, the scenario modules and the report share. */
import type { Running } from './proc.ts';

/** What a round measures, and how it is named in the tables. */
export type Unit = 'req' | 'msg' | 'handshake' | 'MiB' | 'lookup';

/** How long one run of the load generator lasts. */
export type Phase = 'warm' | 'measure' | 'quick';

/** What one run of the load generator did. */
export interface Sample {
  /** Units done (requests, messages, MiB, …). */
  units: number;
  /** Wall time the generator measured over, in seconds. */
  seconds: number;
  /** 99th percentile latency, where the generator reports one. */
  p99Ms?: number;
}

/** A load generator attached to one running contender for one round. */
export interface Driver {
  run(phase: Phase): Promise<Sample>;
  close(): Promise<void>;
}

/** A kind of load: its command line (shown in the tables) and a driver per contender. */
export interface Load {
  describe: string;
  open(server: Running): Driver;
}

/** One contender of a scenario: a server file under bench/servers/ and its config. */
export interface ContenderSpec {
  name: string;
  /** File name under bench/servers/, without `.ts`. */
  server: string;
  config?: object;
  /** The one every ratio of the scenario is taken against. */
  baseline?: boolean;
  /** The hatchway contender the scenario's target is about (profiled when it misses). */
  subject?: boolean;
  /** Loads hatchway: `--against DIR` adds a copy of it that loads DIR's checkout. */
  hatchway?: boolean;
  env?: Record<string, string>;
}

/** One scenario: contenders, the load that drives them, and the check of their answers. */
export interface Scenario {
  id: string;
  title: string;
  /** One or two sentences for the docs: what is served and what it is compared with. */
  about: string;
  unit: Unit;
  contenders: ContenderSpec[];
  load: Load;
  /** Throws unless the contender answers correctly (status and body); run before every measurement. */
  check(server: Running, contender: ContenderSpec): Promise<void>;
  /** Makes what the contenders need (files) before the first round. */
  setup?(): void;
}

/** What the runner hands every scenario module. */
export interface Context {
  quick: boolean;
  /** A temporary directory for files the scenarios make (removed at the end). */
  tmp: string;
  /** The self-signed certificate's files (made once, on first use). */
  tls(): { keyPath: string; certPath: string; cert: string };
}

/** min, median and max of a figure over the rounds. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** One contender's round. */
export interface RoundResult {
  rate: number;
  cpuPerUnit: number;
  rssMiB: number;
  p99Ms?: number;
  /** Scavenges and mark-compacts per 100 000 units in the measured phase (with `--gc`). */
  gc?: { scavenges: number; markCompacts: number };
}

/** One contender over every round. */
export interface ContenderResult {
  name: string;
  baseline: boolean;
  subject: boolean;
  started: boolean;
  answered: boolean;
  /** The last failed round's error. */
  error?: string;
  /** Rounds that failed (the figures are those of the others). */
  failedRounds?: number;
  rounds: RoundResult[];
  rate?: Spread;
  cpu?: Spread;
  p99Ms?: number;
  rssMiB?: number;
  rateRatio?: number;
  cpuRatio?: number;
  rssRatio?: number;
  gc?: { scavenges: number; markCompacts: number };
}

/** One scenario's result. */
export interface ScenarioResult {
  id: string;
  title: string;
  about: string;
  unit: Unit;
  load: string;
  rounds: number;
  /** What a round's phases were: `1 s warm-up + 3 s`, or `quick`. */
  phases: string;
  contenders: ContenderResult[];
  /** Rows of a scenario module outside this runner's model (bench/runtimes.ts), shown as they are. */
  rows?: Record<string, unknown>[];
}
