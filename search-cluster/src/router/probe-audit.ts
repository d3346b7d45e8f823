import type { PartitionMap } from './partition-map.ts';

/** Searches audited first (the map's sample-based slack is checked at once on served data). */
export const AUDIT_FIRST = 200;
/**
 * After those, one search in AUDIT_EVERY_PER_SHARD x shards (at least AUDIT_EVERY) is audited: an
 * audit asks every shard, so its extra shard calls stay under 1% of a search's whatever the count.
 */
export const AUDIT_EVERY = 500;
export const AUDIT_EVERY_PER_SHARD = 128;
export const auditEvery = (shardCount: number) => Math.max(AUDIT_EVERY, AUDIT_EVERY_PER_SHARD * shardCount);

/** What the audited queries of one cluster search saw (cluster-search.ts#probeSearch). */
export interface AuditOutcome {
  audited: number;
  /** Audited queries whose top k held a hit from a shard the probe rule would not have asked. */
  missed: number;
  /** The least slack that would have asked every shard holding an audited query's top-k hit. */
  slackNeeded: number;
}

export interface ProbeAuditOptions {
  first?: number;
  every?: number;
}

export interface ProbeAuditStats {
  audited: number;
  missed: number;
  /** The map's slack now (raised by audits), and as the map was built or loaded. */
  slack: number;
  builtSlack: number;
}

/**
 * The probe rule's check on served traffic. The map's slack is calibrated on a sample
 * (partition-map.ts#calibrateSlack), whose neighbours are as far apart as the sample is sparse:
 * at 400k x 512 a 20,000-row sample set a slack under which the router missed neighbours on
 * other shards (recall@10 0.920 against one shard's 0.956, bench/results/router-512d.md). So the
 * router searches every shard for the first AUDIT_FIRST unfiltered queries of a model version and
 * one in auditEvery(shards) after, answers them from all shards, and raises the slack to what they
 * needed: the rule's "would have found every neighbour" holds on the data it serves (text
 * queries included). The raised slack lives in memory: a restart learns it again.
 */
export class ProbeAudit {
  private seen = 0;
  private audited = 0;
  private missed = 0;
  private readonly builtSlack: number;
  private readonly first: number;
  private readonly every: number;

  constructor(
    private readonly map: PartitionMap,
    options: ProbeAuditOptions = {},
  ) {
    this.builtSlack = map.slack;
    this.first = options.first ?? AUDIT_FIRST;
    this.every = options.every ?? auditEvery(map.shardCount);
  }

  /** Which of the next `count` queries to audit. */
  pick(count: number): boolean[] {
    return Array.from({ length: count }, () => {
      const n = this.seen++;
      return n < this.first || (this.every > 0 && (n - this.first) % this.every === this.every - 1);
    });
  }

  record(outcome: AuditOutcome): void {
    this.audited += outcome.audited;
    this.missed += outcome.missed;
    if (outcome.slackNeeded > this.map.slack) this.map.slack = outcome.slackNeeded;
  }

  stats(): ProbeAuditStats {
    return { audited: this.audited, missed: this.missed, slack: this.map.slack, builtSlack: this.builtSlack };
  }
}

/** A router's audits, one per cluster-partitioned model version, made on its first search. */
export class ProbeAudits {
  private readonly audits = new Map<string, ProbeAudit>();

  constructor(private readonly options: ProbeAuditOptions = {}) {}

  of(modelVersion: string, map: PartitionMap): ProbeAudit {
    let audit = this.audits.get(modelVersion);
    if (!audit) {
      audit = new ProbeAudit(map, this.options);
      this.audits.set(modelVersion, audit);
    }
    return audit;
  }

  stats(modelVersion: string): ProbeAuditStats | null {
    return this.audits.get(modelVersion)?.stats() ?? null;
  }
}
