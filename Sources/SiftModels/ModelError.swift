import Foundation

/// Everything that can go wrong loading or running a model, with the file and tensor involved.
public enum ModelError: Error, Equatable, LocalizedError, CustomStringConvertible {
    /// A required file or folder is absent.
    case missingFile(path: String)
    /// A file exists but could not be read.
    case unreadable(path: String, reason: String)
    /// A safetensors file whose header or layout is invalid.
    case invalidSafetensors(path: String, reason: String)
    /// A tensor entry that is invalid (bad offsets, size, dtype...).
    case invalidTensor(path: String, tensor: String, reason: String)
    /// A tensor the model needs is not in the file.
    case missingTensor(path: String, tensor: String)
    /// A tensor whose shape disagrees with the configuration.
    case shapeMismatch(path: String, tensor: String, expected: [Int], actual: [Int])
    /// A JSON configuration file that is malformed or has an unsupported value.
    case invalidConfiguration(path: String, reason: String)
    /// Model input the model cannot take (token id out of range, sequence too long...).
    case invalidInput(reason: String)
    /// The tokenizer failed (its own error is described in `reason`).
    case tokenizer(reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path): "model file not found: \(path)"
        case let .unreadable(path, reason): "cannot read \(path): \(reason)"
        case let .invalidSafetensors(path, reason): "invalid safetensors file \(path): \(reason)"
        case let .invalidTensor(path, tensor, reason): "invalid tensor '\(tensor)' in \(path): \(reason)"
        case let .missingTensor(path, tensor): "tensor '\(tensor)' not found in \(path)"
        case let .shapeMismatch(path, tensor, expected, actual):
            "tensor '\(tensor)' in \(path) has shape \(actual), expected \(expected)"
        case let .invalidConfiguration(path, reason): "invalid model configuration \(path): \(reason)"
        case let .invalidInput(reason): "invalid model input: \(reason)"
        case let .tokenizer(reason): "tokenizer error: \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
