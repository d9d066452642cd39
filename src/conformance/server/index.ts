/**
 * The server conformance suite's pure half: the case list, the judging of each answer
 * against bits-protocol.md (through src/protocol's decoder and classifier), verdicts and
 * report text. No I/O: the runner (src/commands/check-server*) sends the packets.
 */
export { SERVER_CASES, caseDefinition, type CaseDefinition, type ServerCaseName } from './cases.js';
export { judgeAnswer, describeExpected, type Expectation, type SeenAnswer, type AnswerJudgement } from './expect-answer.js';
export { CaseRecorder, type CaseVerdict, type Outcome, type Reading } from './verdict.js';
export { errorFormatDeviations, type AckSeen } from './error-format.js';
export { caseLines, summarize, summaryLine, jsonReport, type CheckServerReport, type RunSummary } from './report.js';
