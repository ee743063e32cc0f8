import SiftReader

extension ReaderConfig {
    /// The reader options: the preset's rules, then this pipeline's extra drop/keep rules.
    public var readerOptions: ReaderOptions {
        var options = preset.flatMap { ReaderOptions.preset(named: $0) } ?? ReaderOptions()
        options.drop += drop
        options.keep += keep
        return options
    }
}

extension SourceConfig {
    /// The reader's description of this collection.
    public var collectionSource: CollectionSource {
        CollectionSource(root: root.path, include: include, exclude: exclude)
    }
}
