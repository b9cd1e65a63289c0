// The "did you mean" for an unknown recipe key: common synonyms from other
// trainers (learning_rate → lr), else the closest known key by edit distance.
// Leaves out: suggestions across sections (a key in the wrong section is only
// reported as unknown there); finding unknown keys (RecipeSchema+Merge.swift).

import Foundation

enum RecipeKeyCheck {
    /// Names people commonly use elsewhere, mapped to the recipe's key.
    static let synonyms: [String: [String]] = [
        "lr": ["learning_rate", "learningrate", "lr_max", "max_lr", "peak_lr"],
        "min_lr": ["lr_min", "final_lr", "min_learning_rate", "end_lr"],
        "warmup_steps": ["warmup", "warmup_iters", "lr_warmup_steps", "num_warmup_steps"],
        "n_positions": ["context", "context_length", "block_size", "seq_len", "n_ctx", "max_position_embeddings"],
        "context": ["context_length", "block_size", "seq_len", "sequence_length", "n_ctx", "n_positions"],
        "n_layer": ["layers", "n_layers", "num_layers", "num_hidden_layers", "depth"],
        "n_head": ["heads", "n_heads", "num_heads", "num_attention_heads"],
        "n_embd": ["n_embed", "d_model", "hidden_size", "dim", "width", "embedding_dim"],
        "vocab_size": ["vocab", "n_vocab", "vocabulary_size"],
        "batch_size": ["batch", "micro_batch_size", "bs"],
        "grad_accum": ["gradient_accumulation", "gradient_accumulation_steps", "accum_steps", "grad_accum_steps"],
        "steps": ["max_steps", "iters", "max_iters", "num_steps", "train_steps", "iterations"],
        "token_budget": ["tokens", "max_tokens", "train_tokens", "total_tokens"],
        "grad_clip": ["clip", "max_grad_norm", "gradient_clipping", "clip_grad_norm", "grad_norm_clip"],
        "weight_decay": ["wd"],
        "eps": ["epsilon", "adam_eps", "adam_epsilon"],
        "beta1": ["adam_beta1", "b1"],
        "beta2": ["adam_beta2", "b2"],
        "schedule": ["lr_schedule", "scheduler", "lr_scheduler", "decay"],
        "dropout": ["dropout_rate", "resid_pdrop", "attn_pdrop", "embd_pdrop", "pdrop"],
        "optim": ["optimizer", "optimiser", "optimization"],
        "guard": ["spike_guard", "loss_guard", "spikes"],
        "keep_last": ["keep", "max_checkpoints", "keep_checkpoints"],
        "checkpoint_interval": ["save_interval", "save_every", "ckpt_interval", "checkpoint_every"],
        "eval_interval": ["eval_every", "val_interval"],
        "log_interval": ["log_every"],
        "sources": ["datasets", "files", "mixture"],
    ]

    /// The known key a mistyped or foreign key most likely meant, if any is close enough.
    static func suggestion(for key: String, among known: Set<String>) -> String? {
        let lower = key.lowercased().replacingOccurrences(of: "-", with: "_")
        if known.contains(lower) { return lower }
        for candidate in known.sorted() where synonyms[candidate]?.contains(lower) == true { return candidate }
        var best: (String, Int)?
        for candidate in known.sorted() {
            let d = editDistance(lower, candidate)
            if best == nil || d < best!.1 { best = (candidate, d) }
        }
        guard let (candidate, d) = best else { return nil }
        let limit = max(1, min(lower.count, candidate.count) / 3)
        if d <= limit { return candidate }
        if candidate.count >= 3 && (lower.hasPrefix(candidate) || candidate.hasPrefix(lower)) && lower.count >= 3 {
            return candidate
        }
        return nil
    }

    /// Levenshtein distance over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var prev = Array(0...y.count)
        var cur = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            cur[0] = i
            for j in 1...y.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[y.count]
    }
}
