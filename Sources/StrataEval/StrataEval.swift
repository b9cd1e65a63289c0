// StrataEval module: evaluation of checkpoints (see the files beside this one).
