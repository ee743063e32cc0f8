extension String {
    /// Length in Unicode scalars, the unit of every character offset in Sift.
    public var scalarCount: Int { unicodeScalars.count }

    /// The substring for a Unicode-scalar range; clamps to the string's bounds.
    public func scalarSlice(_ range: Range<Int>) -> String {
        let scalars = unicodeScalars
        let lower = max(0, min(range.lowerBound, scalars.count))
        let upper = max(lower, min(range.upperBound, scalars.count))
        let start = scalars.index(scalars.startIndex, offsetBy: lower)
        let end = scalars.index(start, offsetBy: upper - lower)
        return String(scalars[start..<end])
    }
}
