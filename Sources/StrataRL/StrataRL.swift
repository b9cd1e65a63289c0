// StrataRL: the pieces reinforcement-learning stages (PPO, GRPO and its family)
// share — prompts, the rollout engine, reward sources, advantage estimators,
// KL estimators and the policy/value losses. The stages themselves (their
// configs, loops into the shared trainer, lineage) live in StrataTrain.
// Leaves out: the training loop, checkpoints and recipes.
