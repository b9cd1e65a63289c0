// StrataCheckpoint: Hugging Face safetensors read/write (SafeTensors+Read/Write,
// SafeTensorsTypes, HeaderJSON, FloatConversion) and the crash-safe checkpoint trail
// of a run (CheckpointStore and its Verify/Retention facets) over FileIO's fsync and
// atomic-rename plumbing. Leaves out: model-specific tensor naming (StrataModel) and
// what a checkpoint contains beyond files (StrataTrain decides).
