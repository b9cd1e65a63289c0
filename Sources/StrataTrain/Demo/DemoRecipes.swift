// The recipes the demo writes (and leaves in its directory for people to read
// and rerun): pretraining on the world's before-cutoff text, continued
// pretraining on after-cutoff news with or without replay, and an anneal that
// shifts the mixture toward the textbook while the LR decays to zero.
// Leaves out: anything not needed by the demo (see recipes/ for commented examples).

import Foundation

struct DemoRecipes {
    let world: URL, runs: URL, seed: UInt64

    private func common(steps: Int, evalEvery: Int) -> String {
        """
        train: {batch_size: 16, context: 128, steps: \(steps), seed: \(seed), eval_interval: \(evalEvery), eval_batches: 8,
                checkpoint_interval: \(max(1, steps / 2)), keep_last: 2, log_interval: 10}
        """
    }

    func pretrain(steps: Int) -> String {
        """
        # Pretraining: a ~1M-parameter GPT-2 on the world's before-cutoff news/encyclopedia text and its textbook.
        model: {n_layer: 4, n_head: 4, n_embd: 128, n_positions: 128, vocab_size: from_tokenizer}
        tokenizer: {train: {vocab_size: 1024}}
        data:
          sources:
            - {name: general, path: \(world.path)/before_cutoff.jsonl, weight: 0.9}
            - {name: textbook, path: \(world.path)/textbook.jsonl, weight: 0.1}
          validation: {fraction: 0.05}
        \(common(steps: steps, evalEvery: max(1, steps / 10)))
        optim: {lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: \(max(1, steps / 20)), schedule: cosine}
        run: {dir: \(runs.path), name: pretrain}

        """
    }

    func continued(steps: Int, replay: Bool) -> String {
        let sources = replay
            ? "    - {name: after, path: \(world.path)/after_cutoff.jsonl, weight: 0.5}\n    - {name: general, path: \(world.path)/before_cutoff.jsonl, weight: 0.5}"
            : "    - {name: after, path: \(world.path)/after_cutoff.jsonl, weight: 1.0}"
        return """
        # Continued pretraining on after-cutoff news\(replay ? ", with replay of the general corpus" : " only (no replay)").
        data:
          sources:
        \(sources)
          validation: {fraction: 0.05}
        \(common(steps: steps, evalEvery: max(1, steps / 4)))
        optim: {lr: 1.0e-3, min_lr: 1.0e-4, warmup_steps: \(max(1, steps / 20)), schedule: cosine}
        run: {dir: \(runs.path), name: \(replay ? "continue-replay" : "continue-noreplay")}

        """
    }

    func anneal(steps: Int) -> String {
        """
        # Anneal: LR from 1e-3 to 0 (1-sqrt) while the mixture shifts toward the textbook.
        data:
          sources:
            - name: general
              path: \(world.path)/before_cutoff.jsonl
              schedule: [{step: 0, weight: 0.4}, {step: \(steps), weight: 0.2}]
            - {name: after, path: \(world.path)/after_cutoff.jsonl, weight: 0.3}
            - name: textbook
              path: \(world.path)/textbook.jsonl
              schedule: [{step: 0, weight: 0.3}, {step: \(steps), weight: 0.5}]
          validation: {fraction: 0.05}
        \(common(steps: steps, evalEvery: max(1, steps / 2)))
        optim: {lr: 1.0e-3, min_lr: 0.0, decay_shape: 1-sqrt}
        run: {dir: \(runs.path), name: anneal}

        """
    }

    func sft(steps: Int, data: URL) -> String {
        """
        # SFT of the annealed model on questions about before-cutoff facts (plus format and small tasks),
        # loss on the assistant's tokens only, conversations packed into 128-token rows.
        train: {batch_size: 16, context: 128, steps: \(steps), seed: \(seed), eval_interval: \(max(1, steps / 4)), eval_batches: 8,
                checkpoint_interval: \(max(1, steps / 2)), keep_last: 2, log_interval: 10}
        optim: {lr: 1.0e-3, min_lr: 1.0e-4, warmup_steps: \(max(1, steps / 20)), schedule: cosine}
        run: {dir: \(runs.path), name: sft}
        sft:
          train: \(data.path)
          validation_fraction: 0.05
          template: chatml
          packing: pack
          eval: {qa: \(world.path)/qa.jsonl, per_kind: 40, seed: 0, max_new_tokens: 24}

        """
    }

    func reward(steps: Int) -> String {
        """
        # Reward model: the SFT checkpoint's trunk plus a scalar head, Bradley–Terry loss on the world's labelled pairs.
        train: {batch_size: 16, context: 128, steps: \(steps), seed: \(seed), eval_interval: \(max(1, steps / 3)), eval_batches: 8,
                checkpoint_interval: \(max(1, steps / 2)), keep_last: 2, log_interval: 10}
        optim: {lr: 1.0e-3, min_lr: 1.0e-4, warmup_steps: \(max(1, steps / 15)), schedule: cosine}
        run: {dir: \(runs.path), name: reward}
        preference:
          train: \(world.path)/preferences.jsonl
          validation: \(world.path)/preferences_test.jsonl

        """
    }

    func dpo(steps: Int, name: String, sftWeight: Double) -> String {
        """
        # DPO (sigmoid, beta 0.1) against the frozen SFT checkpoint\(sftWeight > 0 ? ", plus an SFT term (weight \(sftWeight)) on the chosen replies" : "").
        train: {batch_size: 8, context: 128, steps: \(steps), seed: \(seed), eval_interval: \(max(1, steps / 3)), eval_batches: 8,
                checkpoint_interval: \(max(1, steps / 2)), keep_last: 2, log_interval: 10}
        optim: {lr: 2.0e-4, min_lr: 2.0e-5, warmup_steps: \(max(1, steps / 15)), schedule: cosine}
        run: {dir: \(runs.path), name: \(name)}
        preference:
          train: \(world.path)/preferences.jsonl
          validation: \(world.path)/preferences_test.jsonl
          loss: sigmoid
          beta: 0.1
          sft_weight: \(sftWeight)
          eval: {qa: \(world.path)/qa.jsonl, per_kind: 40, behaviour: \(world.path)/preferences_test.jsonl, behaviour_per_kind: 64}

        """
    }
}
