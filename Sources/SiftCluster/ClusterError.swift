/// What went wrong in clustering, with the numbers that show why. Bad arguments and inputs that cannot be
/// clustered throw this; shapes that callers get wrong (a programmer error) trap instead.
public enum ClusterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing to cluster.
    case empty
    /// An argument outside its range, e.g. k = 0 or a threshold of 1.5.
    case invalidArgument(name: String, value: String, expected: String)
    /// k-means asked for more clusters than there are items, or than there are distinct vectors.
    case tooFewItems(method: String, items: Int, distinct: Int?, requested: Int)
    /// Agglomerative clustering keeps an n² distance matrix; above this many items it would not fit.
    case tooManyItems(method: String, items: Int, limit: Int, hint: String)

    public var description: String {
        switch self {
        case .empty:
            return "nothing to cluster: no items were given"
        case .invalidArgument(let name, let value, let expected):
            return "\(name) = \(value) is out of range: expected \(expected)"
        case .tooFewItems(let method, let items, let distinct, let requested):
            if let distinct, distinct < requested, distinct < items {
                return "\(method) asked for \(requested) clusters, but the \(items) items hold only \(distinct) distinct vectors"
            }
            return "\(method) asked for \(requested) clusters, but there are only \(items) items"
        case .tooManyItems(let method, let items, let limit, let hint):
            return "\(method) clustering of \(items) items needs an \(items)² distance matrix; the limit is \(limit) items (\(hint))"
        }
    }
}
