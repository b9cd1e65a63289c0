// The synthetic world's instruction tasks as prompt files for RL stages:
// each task becomes a conversational prompt record with its kind, gold answer
// and (for fact tasks) period, fact id, reference reply sentence and guessing chance as columns, so rule rewards check
// replies with the same checkers as the instruction evaluation. The test file
// holds exactly the held-out evaluation tasks (`InstructionTasks.build`), the
// train file tasks from the QA train split; the generated file many more addition
// and list-reversal tasks (verifiable-reward RL: a few hundred get memorised, not
// learnt); none of the three shares a prompt with the test file.
// Leaves out: multi-turn prompts and prompts for the preference behaviours.

import Foundation
import StrataCore
import StrataData
import StrataEval

public enum InstructionPrompts {
    /// Column names written beside each prompt.
    public enum Column {
        public static let kind = "kind"
        public static let answer = "answer"
        public static let period = "period"
        public static let factID = "fact_id"
        /// Fact tasks: the reference reply sentence (subject restated, then the answer); its lead is accepted before the answer.
        public static let reply = "reply"
        /// Fact tasks: the chance that a guess of the asked kind is right (InstructionTask.chance), a number.
        public static let chance = "chance"
    }

    public static let trainFile = "prompts_train.jsonl"
    public static let testFile = "prompts_test.jsonl"
    public static let generatedFile = "prompts_generated.jsonl"

    /// How many tasks each file gets and which seeds choose them. The test defaults match the held-out
    /// instruction evaluation (seed 0, 40 per kind), so `prompts_test.jsonl` is the evaluation set.
    /// `generatedPerKind`: addition and reversal tasks each in `prompts_generated.jsonl` (train split, the train seed).
    public struct Config: Codable, Equatable, Sendable {
        public var trainPerKind = 200
        public var trainSeed: UInt64 = 0
        public var testPerKind = 40
        public var testSeed: UInt64 = 0
        public var generatedPerKind = 2_000
        public init(trainPerKind: Int = 200, trainSeed: UInt64 = 0, testPerKind: Int = 40, testSeed: UInt64 = 0,
                    generatedPerKind: Int = 2_000) {
            self.trainPerKind = trainPerKind; self.trainSeed = trainSeed
            self.testPerKind = testPerKind; self.testSeed = testSeed
            self.generatedPerKind = generatedPerKind
        }
    }

    /// The prompt record of a task: its messages, with kind, answer and (when known) period and fact id.
    public static func record(_ task: InstructionTask) -> PromptRecord {
        var columns: [String: PromptValue] = [Column.kind: .string(task.kind.rawValue), Column.answer: .string(task.expected)]
        if let p = task.period { columns[Column.period] = .string(p) }
        if let f = task.factID { columns[Column.factID] = .string(f) }
        if let r = task.sentence { columns[Column.reply] = .string(r) }
        if let c = task.chance { columns[Column.chance] = .number(c) }
        return .chat(task.messages, columns: columns)
    }

    /// The instruction task a record describes, when it has a known "kind" and an "answer".
    public static func task(_ record: PromptRecord) -> InstructionTask? {
        guard let k = record.text(Column.kind), let kind = InstructionKind(rawValue: k), let answer = record.text(Column.answer) else {
            return nil
        }
        var chance: Double?
        if case .number(let c)? = record.columns[Column.chance] { chance = c }
        return InstructionTask(kind: kind, messages: record.messages, expected: answer, period: record.text(Column.period),
                               factID: record.text(Column.factID), sentence: record.text(Column.reply), chance: chance)
    }

    /// Train, test and generated prompt records from the world's QA pairs.
    public static func build(qa: [SyntheticWorld.QAPair], config: Config = Config())
        -> (train: [PromptRecord], test: [PromptRecord], generated: [PromptRecord]) {
        let train = InstructionTasks.training(qa: qa, seed: config.trainSeed, perKind: config.trainPerKind).map(record)
        let test = InstructionTasks.build(qa: qa, seed: config.testSeed, perKind: config.testPerKind).map(record)
        // No QA pairs: only the generated kinds (add, reverse) have tasks.
        let generated = InstructionTasks.training(qa: [], seed: config.trainSeed, perKind: config.generatedPerKind).map(record)
        return (train, test, generated)
    }

    /// Write prompts_train.jsonl, prompts_test.jsonl and prompts_generated.jsonl into `directory`;
    /// returns (file name, records) in write order.
    @discardableResult
    public static func write(qa: [SyntheticWorld.QAPair], to directory: URL, config: Config = Config()) throws -> [(file: String, records: Int)] {
        let (train, test, generated) = build(qa: qa, config: config)
        try PromptDataset.write(train, to: directory.appendingPathComponent(trainFile))
        try PromptDataset.write(test, to: directory.appendingPathComponent(testFile))
        try PromptDataset.write(generated, to: directory.appendingPathComponent(generatedFile))
        return [(trainFile, train.count), (testFile, test.count), (generatedFile, generated.count)]
    }
}
