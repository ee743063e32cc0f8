import Foundation

/// Plain Swift versions of `Kernels`, written for clarity (Double accumulation, no BLAS, padded
/// batches with an explicit mask); tests compare the fast kernels against them.
public enum KernelReference {
    /// `input [rows×inFeatures] · weightᵀ + bias`, weight `[outFeatures×inFeatures]`.
    public static func linear(input: [Float], rows: Int, inFeatures: Int, weight: [Float], bias: [Float]?, outFeatures: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * outFeatures)
        for r in 0..<rows {
            for o in 0..<outFeatures {
                var sum = Double(bias?[o] ?? 0)
                for i in 0..<inFeatures { sum += Double(input[r * inFeatures + i]) * Double(weight[o * inFeatures + i]) }
                out[r * outFeatures + o] = Float(sum)
            }
        }
        return out
    }

    public static func layerNorm(_ x: [Float], rows: Int, width: Int, gamma: [Float], beta: [Float], eps: Float) -> [Float] {
        var out = x
        for r in 0..<rows {
            let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
            let mean = row.reduce(0, +) / Double(width)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
            for i in 0..<width {
                out[r * width + i] = Float((row[i] - mean) / (variance + Double(eps)).squareRoot() * Double(gamma[i]) + Double(beta[i]))
            }
        }
        return out
    }

    public static func gelu(_ x: [Float]) -> [Float] {
        x.map { v in Float(Double(v) * 0.5 * (1 + erf(Double(v) / 2.0.squareRoot()))) }
    }

    public static func softmax(_ x: [Float], rows: Int, width: Int) -> [Float] {
        var out = x
        for r in 0..<rows {
            let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
            let m = row.max()!
            let e = row.map { exp($0 - m) }
            let s = e.reduce(0, +)
            for i in 0..<width { out[r * width + i] = Float(e[i] / s) }
        }
        return out
    }

    /// Padded-batch attention as PyTorch's BERT computes it: `q, k, v [batch × seq × heads·headSize]`,
    /// `mask [batch × seq]` (1 = real token, 0 = padding; padded keys get −∞ before softmax).
    /// Returns the context `[batch × seq × heads·headSize]`; rows of padded queries are computed too.
    public static func attention(q: [Float], k: [Float], v: [Float], mask: [Int32], batch: Int, seq: Int, heads: Int, headSize: Int) -> [Float] {
        let hidden = heads * headSize
        var out = [Float](repeating: 0, count: batch * seq * hidden)
        let scale = 1 / Double(headSize).squareRoot()
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<seq {
                    var scores = [Double](repeating: -.infinity, count: seq)
                    for j in 0..<seq where mask[b * seq + j] != 0 {
                        var dot = 0.0
                        for d in 0..<headSize {
                            dot += Double(q[(b * seq + i) * hidden + h * headSize + d]) * Double(k[(b * seq + j) * hidden + h * headSize + d])
                        }
                        scores[j] = dot * scale
                    }
                    let m = scores.max()!
                    let e = scores.map { $0 == -.infinity ? 0 : exp($0 - m) }
                    let s = e.reduce(0, +)
                    for d in 0..<headSize {
                        var acc = 0.0
                        for j in 0..<seq { acc += e[j] / s * Double(v[(b * seq + j) * hidden + h * headSize + d]) }
                        out[(b * seq + i) * hidden + h * headSize + d] = Float(acc)
                    }
                }
            }
        }
        return out
    }

    /// Padded-batch pooling: `hidden [batch × seq × width]`, `mask [batch × seq]` → `[batch × width]`.
    public static func pool(_ mode: Kernels.Pooling, hidden: [Float], mask: [Int32], batch: Int, seq: Int, width: Int) -> [Float] {
        var out = [Float](repeating: 0, count: batch * width)
        for b in 0..<batch {
            let tokens = (0..<seq).filter { mask[b * seq + $0] != 0 }
            if tokens.isEmpty { continue }
            for i in 0..<width {
                let values = tokens.map { Double(hidden[(b * seq + $0) * width + i]) }
                let result: Double
                switch mode {
                case .cls: result = Double(hidden[(b * seq) * width + i])
                case .max: result = values.max()!
                case .mean: result = values.reduce(0, +) / Double(values.count)
                case .meanSqrtLength: result = values.reduce(0, +) / Double(values.count).squareRoot()
                }
                out[b * width + i] = Float(result)
            }
        }
        return out
    }

    public static func l2Normalize(_ x: [Float], rows: Int, width: Int) -> [Float] {
        var out = x
        for r in 0..<rows {
            let norm = x[(r * width)..<((r + 1) * width)].map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
            for i in 0..<width { out[r * width + i] = Float(Double(x[r * width + i]) / max(norm, 1e-12)) }
        }
        return out
    }
}
