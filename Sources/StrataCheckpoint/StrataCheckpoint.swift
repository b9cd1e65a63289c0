// StrataCheckpoint module. See the files beside this one.
