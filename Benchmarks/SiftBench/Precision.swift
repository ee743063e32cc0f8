import ArgumentParser
import SiftModels

/// `--precision` values.
func parsePrecision(_ name: String) throws -> ModelPrecision {
    switch name {
    case "fp32", "float32": return .float32
    case "bf16", "bfloat16": return .bfloat16
    case "int8": return .int8
    default: throw ValidationError("--precision must be fp32, bf16 or int8, not \(name)")
    }
}
