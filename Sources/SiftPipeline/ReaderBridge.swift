/// The reader's vocabulary as the pipeline needs it.
enum ReaderBridge {
    /// Canonical reader preset names (SiftReader's `ReaderOptions.preset(named:)` also accepts aliases).
    static let presetNames = ["default", "sphinx", "postgres", "sqlite"]
}
