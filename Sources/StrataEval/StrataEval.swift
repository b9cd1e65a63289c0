// StrataEval: evaluation of checkpoints. Cloze probes ranked by log-likelihood
// and answered by greedy completion (ProbeEval), next-token loss per data source
// (ValidationLoss), forgetting against a baseline (Forgetting), the Codable
// EvalReport with its flat metrics and the fixed-width comparison table
// (EvalTable), and the `strata eval` job that loads checkpoints (Evaluation).
// Leaves out: generative benchmarks beyond cloze probes, reward-model evaluation.
