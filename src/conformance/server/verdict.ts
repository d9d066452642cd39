/**
 * The verdict of one case, built step by step as its session runs. Pure: the runner hands in
 * each answer it got, this records what deviated. A case is a deviation as soon as one
 * answer deviated, not applicable when the runner says so before any deviation, else a pass.
 */
import type { AnsweredPacket } from '../../protocol/index.js';
import { caseDefinition, type ServerCaseName } from './cases.js';
import { describeExpected, judgeAnswer, type AnswerJudgement, type Expectation, type SeenAnswer } from './expect-answer.js';

export type Outcome = 'pass' | 'deviation' | 'not-applicable';

export interface CaseVerdict {
  name: ServerCaseName;
  section: string;
  outcome: Outcome;
  /** Each deviation, naming the packet, the expected and the seen status/code/range. */
  deviations: string[];
  /** Readings accepted where the reference has a Conflict, why a case did not apply, and the like. */
  notes: string[];
}

/** One acceptable answer among several (a Conflict or an Unverified point of the reference). */
export interface Reading {
  /** Who reads it so, e.g. `[W] Fragment`. */
  source: string;
  expect: Expectation;
}

export class CaseRecorder {
  readonly deviations: string[] = [];
  readonly notes: string[] = [];
  private skipped: string | undefined;

  constructor(readonly name: ServerCaseName) {}

  /** Judges one answer; returns the judgement so the script can go on from the decoded Ack. */
  expect(packet: AnsweredPacket, what: string, seen: SeenAnswer, expected: Expectation): AnswerJudgement {
    const j = judgeAnswer(packet, what, seen, expected);
    this.deviations.push(...j.deviations);
    return j;
  }

  /**
   * The answer must match one of several readings; a note says which one the server
   * follows. None matching: one deviation listing them all.
   */
  expectOneOf(packet: AnsweredPacket, what: string, seen: SeenAnswer, readings: readonly Reading[], conflict: string): AnswerJudgement {
    let first: AnswerJudgement | undefined;
    for (const r of readings) {
      const j = judgeAnswer(packet, what, seen, r.expect);
      first ??= j;
      if (j.deviations.length === 0) {
        this.notes.push(`${conflict}: seen ${j.seen}, as ${r.source}; either reading passes`);
        return j;
      }
    }
    const expected = readings.map((r) => `${describeExpected(r.expect)} (${r.source})`).join(' or ');
    this.deviations.push(`${what}: expected ${expected}, seen ${first!.seen}`);
    return first!;
  }

  /** A deviation found by the script itself (e.g. a reply URL that cannot be fetched). */
  deviation(text: string): void {
    this.deviations.push(text);
  }

  note(text: string): void {
    this.notes.push(text);
  }

  /** The case cannot be judged against this server; `why` says what would make it apply. */
  notApplicable(why: string): void {
    this.skipped ??= why;
  }

  verdict(): CaseVerdict {
    const def = caseDefinition(this.name);
    const outcome: Outcome = this.deviations.length > 0 ? 'deviation' : this.skipped !== undefined ? 'not-applicable' : 'pass';
    const notes = outcome === 'not-applicable' ? [`not applicable: ${this.skipped}`, ...this.notes] : [...this.notes];
    return { name: this.name, section: def.section, outcome, deviations: [...this.deviations], notes };
  }
}
