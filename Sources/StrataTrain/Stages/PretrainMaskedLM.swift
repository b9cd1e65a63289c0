// Masked-LM pretraining of the RoBERTa encoder (model.family: roberta,
// train.objective: masked_lm): the parts `strata pretrain` builds instead of the
// next-token ones. The mixture loader's windows become rows <s> w[0..T−2) </s>;
// each micro-batch is corrupted by the masking rule (15% of non-special positions
// selected; 80% <mask>, 10% random, 10% kept) under a seed derived from (train.seed,
// step, micro-batch) — the loop's dropout seed for that micro-batch, hashed — so an
// interrupted and resumed run masks every step as the uninterrupted one did. The
// loss is cross-entropy over selected positions, normalised by the step's count of
// selected positions over all its micro-batches. Validation is MaskedLMEval's
// masked loss per source, at a fixed seed. Also the encoder's config from the
// recipe's model keys and the tokenizer a roberta run needs (special tokens added,
// RobertaProcessing post-processor).
// Under mpirun each rank trains its share of the micro-batches, as next-token pretraining does.
// Leaves out: the GPU engine (GPT-2 only), dynamic sequence lengths and padding (rows are full).

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataEval
import StrataTokenizer

enum MaskedLMStage {
    static func parts(_ start: StageStart, model: Roberta, tokenizer: BPETokenizer) throws -> StageParts {
        var recipe = start.recipe
        recipe.train.objective = .maskedLM   // recorded in the resolved recipe and lineage
        let tokens = try MaskedLMTokens(tokenizer: tokenizer, source: "the run's tokenizer")
        let sources = try DataPipeline.prepare(recipe, tokenizer: tokenizer, runDir: start.runDir, log: start.log)
        let loader = try DataPipeline.loader(recipe, sources: sources, state: start.loaderState)
        let objective = MaskedLMObjective(model: model, batches: MixtureBatches(loader), tokens: tokens, rule: MaskingRule())
        return StageParts(recipe: recipe, model: model, tokenizer: tokenizer, objective: objective, data: sources.map(\.record),
                          validation: .maskedSources(model, sources, tokens: tokens, batch: recipe.train.batchSize,
                                                     context: recipe.context, batches: recipe.train.evalBatches),
                          content: .languageModel(model))
    }

    /// The encoder config the recipe's model keys describe: n_layer, n_head, n_embd, n_inner (default 4·n_embd) and
    /// n_positions tokens per row (max_position_embeddings = n_positions + pad_token_id + 1), special ids from the tokenizer.
    static func config(_ recipe: Recipe, tokenizer: BPETokenizer) throws -> RobertaConfig {
        let m = recipe.model
        try Pretrain.checkFamilyKeys(m, objective: recipe.train.objective)
        let tokens = try MaskedLMTokens(tokenizer: tokenizer, source: "the recipe's tokenizer")
        var cfg = RobertaConfig(vocabSize: m.vocabSize.resolved(tokenizerSize: tokenizer.vocabSize), hiddenSize: m.nEmbd, layers: m.nLayer,
                                heads: m.nHead, intermediateSize: m.nInner ?? 4 * m.nEmbd, maxPositions: m.nPositions + Int(tokens.pad) + 1)
        cfg.padTokenId = Int(tokens.pad); cfg.bosTokenId = Int(tokens.bos); cfg.eosTokenId = Int(tokens.eos)
        try Pretrain.requireVocabulary(cfg.vocabSize, tokenizer)
        try cfg.validate(source: "recipe model section")
        return cfg
    }

    /// A roberta run's tokenizer: <s> <pad> </s> <unk> <mask> added where missing, and the RobertaProcessing
    /// post-processor (<s> … </s> around a single text) so transformers' tokenizer frames text as the encoder trains.
    static func prepareTokenizer(_ tokenizer: BPETokenizer) throws -> BPETokenizer {
        let (grown, ids) = try tokenizer.addingSpecialTokens(MaskedLMTokens.robertaSpecials)
        return try grown.withPostProcessor(.roberta(cls: ("<s>", ids[0]), sep: ("</s>", ids[2])))
    }
}

/// Masked-LM cross-entropy over a step's micro-batches, normalised by the step's global count of selected positions.
final class MaskedLMObjective: StepObjective {
    let model: Roberta
    let batches: BatchSource
    let tokens: MaskedLMTokens
    let rule: MaskingRule

    init(model: Roberta, batches: BatchSource, tokens: MaskedLMTokens, rule: MaskingRule) {
        self.model = model; self.batches = batches; self.tokens = tokens; self.rule = rule
    }

    var state: LoaderState { batches.state }
    /// Every rank draws and masks the step's same micro-batches and trains its share (as the next-token objective).
    var splitsAcrossRanks: Bool { true }

    /// The masking seed of micro-batch i: its dropout seed (a function of train.seed, step and i) through SplitMix-style mixing.
    static func maskSeed(_ tapeSeed: UInt64) -> UInt64 {
        var z = tapeSeed &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The step's corrupted micro-batches: framed rows, masked inputs and labels.
    func draw(_ plan: StepPlan) throws -> [StepBatch] {
        try (0..<plan.accum).map { i in
            let b = try batches.next(), t = b.time
            let windows = (0..<b.rows).map { Array(b.inputs[($0 * t)..<(($0 + 1) * t)]) }
            let rows = tokens.frame(windows: windows, time: t)
            let m = rule.corrupt(rows: rows, time: t, tokens: tokens, vocabSize: model.vocabSize, seed: Self.maskSeed(plan.tapeSeed(i)))
            return StepBatch(rows: b.rows, time: t, inputs: m.inputs, targets: m.labels, trainedTokens: m.selected, realTokens: rows.count)
        }
    }

    func run(_ plan: StepPlan) throws -> StepOutcome {
        let micro = try draw(plan)
        let trained = micro.reduce(0) { $0 + $1.trainedTokens }, tokensRead = micro.reduce(0) { $0 + $1.realTokens }
        let flops = micro.reduce(0.0) { $0 + 3 * model.forwardFlopsPerToken(context: $1.time) * Double($1.rows * $1.time) }
        guard trained > 0 else { return StepOutcome(loss: nil, tokens: tokensRead, flops: flops) }
        var terms: [MicroBatchTerms?] = Array(repeating: nil, count: micro.count)
        for (i, b) in micro.enumerated() where plan.share.trains(i) {
            plan.gradients?.beginMicroBatch()
            let tape = Tape(seed: plan.tapeSeed(i))
            let l = model.loss(b.inputs, targets: b.targets, batch: b.rows, time: b.time, tape: tape, normalizer: Float(trained))
            tape.backward(l, seed: 1)
            plan.gradients?.endMicroBatch()
            terms[i] = MicroBatchTerms(loss: Double(l.item()), tokens: b.realTokens)
        }
        plan.gradients?.endStep()
        return StepOutcome(terms: terms, tokens: tokensRead, flops: flops)
    }
}

extension Validator {
    /// Masked-LM loss (and perplexity) over the first `batches` × B windows of each source's validation shard, masked at
    /// MaskedLMEval's fixed seed — the numbers `strata eval` reports for the encoder; accuracy is kept per source.
    static func maskedSources(_ model: Roberta, _ sources: [PreparedSource], tokens: MaskedLMTokens, batch: Int, context: Int,
                              batches: Int) -> Validator {
        Validator {
            var sum = TokenLossSum()
            for src in sources {
                guard let val = src.validation, val.count >= context - 2 else { continue }
                let score = try MaskedLMEval.evaluate(model: model, shard: val, name: src.name, tokens: tokens,
                                                      windows: max(1, batches * batch), context: context, batch: batch)
                sum.add(src.name, meanLoss: score.loss, tokens: score.tokens)
            }
            return sum.result
        }
    }
}
