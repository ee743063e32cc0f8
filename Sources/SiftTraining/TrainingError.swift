import Foundation

/// What can go wrong preparing or running training, with the file and line or the input involved.
public enum TrainingError: Error, Equatable, LocalizedError, CustomStringConvertible {
    /// Input a model cannot take (token id out of range, empty or over-long sequence).
    case invalidInput(reason: String)
    /// A training-data file that is missing, empty or malformed (line is 1-based; 0 for the whole file).
    case invalidData(path: String, line: Int, reason: String)
    /// A checkpoint or model folder that cannot be read or written.
    case checkpoint(path: String, reason: String)
    /// Settings that cannot work together (batch larger than the data, zero epochs...).
    case invalidSettings(reason: String)
    /// The run was asked to stop (Ctrl-C) after `step` of `total` steps; a checkpoint was written first.
    case stopped(step: Int, total: Int)

    public var description: String {
        switch self {
        case let .invalidInput(reason): "invalid training input: \(reason)"
        case let .invalidData(path, line, reason): line > 0 ? "\(path):\(line): \(reason)" : "\(path): \(reason)"
        case let .checkpoint(path, reason): "checkpoint \(path): \(reason)"
        case let .invalidSettings(reason): "invalid training settings: \(reason)"
        case let .stopped(step, total): "stopped at step \(step) of \(total); a checkpoint was written: run the same command with --resume to go on"
        }
    }

    public var errorDescription: String? { description }
}
