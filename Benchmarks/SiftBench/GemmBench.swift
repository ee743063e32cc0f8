import ArgumentParser
import Foundation
import Dispatch
import SiftKernels
import SiftPipeline

/// GFLOP/s of OpenBLAS sgemm vs PackedLinear float32 / bfloat16 / int8 on the MiniLM-L6 linear shapes
/// (Y[T×N] = X[T×K]·Wᵀ + b; int8 counts its integer multiply-adds the same way, and its time includes quantizing X)
/// and per-head attention products. Prints; never asserts. Method: Benchmarks/gemm/README.md.
struct GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GFLOP/s of OpenBLAS vs Sift's packed fp32/bf16/int8 kernels on the encoder's matmul shapes.",
        discussion: """
        Measures the kernels of the active tier (the fastest this CPU has; SIFT_KERNELS=avx2|portable forces a lower \
        one). With --peak (per-core fp32 FMA ceiling from Benchmarks/gemm/peak.c) each fp32 rate is also given as a \
        fraction of it.

        Examples:
          sift-bench gemm --rows 6400,200 --threads 1
          SIFT_KERNELS=avx2 sift-bench gemm --threads 1 --peak 113.7
        """
    )

    @Option(help: "Token rows T to measure (comma-separated).")
    var rows: String = "6400,200"

    @Option(help: "Thread counts to measure (comma-separated).")
    var threads: String = "1,2"

    @Option(help: "Timed repetitions per measurement; the best is reported (the CPU is shared, so take the best).")
    var repeats: Int = 5

    @Option(help: "Sequence lengths for the fused attention kernel (comma-separated; 172 is the benchmark passages' mean).")
    var lengths: String = "100,172,256"

    @Option(help: "Per-core fp32 FMA peak in GFLOP/s (Benchmarks/gemm/peak.c), to report fp32 rates as a fraction of it.")
    var peak: Double?

    func run() throws {
        let rowCounts = try Self.integers(rows, "rows"), threadCounts = try Self.integers(threads, "threads")
        guard repeats >= 1 else { throw ValidationError("--repeats must be ≥ 1") }
        print("CPU: \(RuntimeInfo.cpuModel)\n\(RuntimeInfo.kernels)")
        if let peak { print(String(format: "fp32 FMA peak given: %.1f GFLOP/s per core; fp32 cells show %% of peak × threads", peak)) }
        print("GFLOP/s (int8: GOP/s), best of \(repeats); speedup vs OpenBLAS in parentheses")
        print(pad("shape", 34) + pad("thr", 4) + pad("openblas", 10) + pad("fp32", 18) + pad("bf16", 18) + pad("int8", 18))
        let linearShapes = [("qkv fused", 1152, 384), ("q/k/v or attn out", 384, 384), ("intermediate", 1536, 384), ("output", 384, 1536)]
        for t in rowCounts {
            for (name, n, k) in linearShapes {
                for th in threadCounts { measureLinear(name: name, rows: t, n: n, k: k, threads: th) }
            }
            // GELU fused into the kernel vs OpenBLAS followed by the separate Kernels.gelu pass.
            for th in threadCounts { measureLinear(name: "intermediate+GELU", rows: t, n: 1536, k: 384, threads: th, gelu: true) }
        }
        // Attention per head (S = 200, head dim 32) as two GEMMs: the operand is packed on every call, so packing is timed.
        for th in threadCounts {
            measureAttention(name: "scores Q·Kᵀ 200×200×32", rows: 200, n: 200, k: 32, threads: th)
            measureAttention(name: "context P·V 200×32×200", rows: 200, n: 32, k: 200, threads: th)
        }
        // The fused attention kernel the encoder runs (scores, softmax, P·V per block of query rows, K/V packing).
        print("fused attention, one sequence × 12 heads × head dim 32, GFLOP/s (4·L²·384 per call), best of \(repeats)")
        print(pad("length", 34) + pad("thr", 4) + pad("fp32", 10) + pad("bf16 (bf16 QKV)", 18) + pad("bf16 (fp32 QKV, int8 models)", 30))
        for length in try Self.integers(lengths, "lengths") {
            for th in threadCounts { measureFusedAttention(length: length, threads: th) }
        }
    }

    static func integers(_ list: String, _ name: String) throws -> [Int] {
        let values = list.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 > 0 }) else { throw ValidationError("--\(name): expected positive integers, got '\(list)'") }
        return values
    }

    /// Deterministic values in [-1, 1).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
        }
    }

    /// Best wall time in seconds of `body` over `repeats` runs, after one warm-up run.
    func bestTime(_ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    func measureLinear(name: String, rows t: Int, n: Int, k: Int, threads: Int, gelu: Bool = false) {
        let x = Self.values(t * k, seed: 1), w = Self.values(n * k, seed: 2), bias = Self.values(n, seed: 3)
        var y = [Float](repeating: 0, count: t * n)
        let flop = 2.0 * Double(t * n * k)
        let activation: PackedLinear.Activation = gelu ? .gelu : .none
        let fp32 = PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: .float32, activation: activation)
        let bf16 = PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: .bfloat16, activation: activation)
        let int8 = PackedLinear(weight: w, bias: bias, outFeatures: n, inFeatures: k, precision: .int8, activation: activation)
        let saved = Gemm.threadCount
        defer { Gemm.threadCount = saved }
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    // OpenBLAS owns the cores here (its own threads); plain sgemm, no bias: its best case.
                    Gemm.threadCount = threads
                    let blas = bestTime {
                        Gemm.multiply(transB: true, m: t, n: n, k: k, a: xp, lda: k, b: wp, ldb: k, c: yp, ldc: n)
                        if gelu { Kernels.gelu(yp, count: t * n) }
                    }
                    Gemm.threadCount = 1
                    let f = bestTime { fp32.apply(xp, rows: t, into: yp, threads: threads) }
                    let b = bestTime { bf16.apply(xp, rows: t, into: yp, threads: threads) }
                    let i = bestTime { int8.apply(xp, rows: t, into: yp, threads: threads) }
                    report("\(name) T=\(t) N=\(n) K=\(k)", threads: threads, flop: flop, blas: blas, fp32: f, bf16: b, int8: i)
                }
            }
        }
    }

    /// `rows×n = X[rows×k] · Bᵀ` where B is a strided head slice of a [n×(k·12)] matrix, packed per call.
    func measureAttention(name: String, rows: Int, n: Int, k: Int, threads: Int) {
        let ld = k * 12
        let x = Self.values(rows * k, seed: 4), b = Self.values(n * ld, seed: 5)
        var y = [Float](repeating: 0, count: rows * n)
        let flop = 2.0 * Double(rows * n * k)
        let saved = Gemm.threadCount
        defer { Gemm.threadCount = saved }
        x.withUnsafeBufferPointer { xp in
            b.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    Gemm.threadCount = threads
                    let blas = bestTime {
                        Gemm.multiply(transB: true, m: rows, n: n, k: k, a: xp, lda: k, b: bp, ldb: ld, c: yp, ldc: n)
                    }
                    Gemm.threadCount = 1
                    func packed(_ precision: PackedLinear.Precision) -> Double {
                        bestTime {
                            let layer = PackedLinear(weight: bp, bias: nil, outFeatures: n, inFeatures: k,
                                                     featureStride: ld, inputStride: 1, precision: precision)
                            layer.apply(xp, rows: rows, into: yp, threads: threads)
                        }
                    }
                    report(name, threads: threads, flop: flop, blas: blas, fp32: packed(.float32), bf16: packed(.bfloat16))
                }
            }
        }
    }

    /// `Kernels.attention` on one sequence of `length` tokens, 12 heads of 32 (MiniLM): fp32, the bf16 kernel reading
    /// bf16 Q/K/V in place (bf16 models), and the bf16 kernel rounding fp32 Q/K/V (int8 models).
    func measureFusedAttention(length: Int, threads: Int) {
        let (heads, headSize) = (12, 32), hidden = 12 * 32
        let qkv = Self.values(length * 3 * hidden, seed: 6).map { 2 * $0 }
        let bits = qkv.map { v -> UInt16 in UInt16(truncatingIfNeeded: (v.bitPattern &+ 0x7FFF &+ ((v.bitPattern >> 16) & 1)) >> 16) }
        var output = [Float](repeating: 0, count: length * hidden)
        var scratch = [Float](repeating: 0, count: Kernels.attentionScratchCount(maxLength: length, headSize: headSize,
                                                                                 threads: threads, precision: .bfloat16))
        let flop = 4.0 * Double(length * length * hidden)
        let offsets = [0, length]
        let (f, i) = qkv.withUnsafeBufferPointer { qp in output.withUnsafeMutableBufferPointer { op in
            scratch.withUnsafeMutableBufferPointer { sp in
                (bestTime { Kernels.attention(qkv: qp, sequenceOffsets: offsets, heads: heads, headSize: headSize, output: op,
                                              scratch: sp, threads: threads, precision: .float32) },
                 bestTime { Kernels.attention(qkv: qp, sequenceOffsets: offsets, heads: heads, headSize: headSize, output: op,
                                              scratch: sp, threads: threads, precision: .int8) })
            }
        } }
        var b = Double.nan
        if Kernels.attentionTakesBFloat16 {
            b = bits.withUnsafeBufferPointer { qp in output.withUnsafeMutableBufferPointer { op in
                scratch.withUnsafeMutableBufferPointer { sp in
                    bestTime { Kernels.attention(bfloat16QKV: qp, sequenceOffsets: offsets, heads: heads, headSize: headSize,
                                                 output: op, scratch: sp, threads: threads) }
                }
            } }
        }
        func rate(_ seconds: Double) -> String { seconds.isNaN ? "-" : String(format: "%.1f", flop / seconds / 1e9) }
        print(pad("L=\(length)", 34) + pad("\(threads)", 4) + pad(rate(f), 10) + pad(rate(b), 18) + pad(rate(i), 30))
    }

    /// One table line; `int8` nil prints "-" (attention products have no int8 path).
    func report(_ shape: String, threads: Int, flop: Double, blas: Double, fp32: Double, bf16: Double, int8: Double? = nil) {
        func rate(_ seconds: Double) -> String { String(format: "%.1f", flop / seconds / 1e9) }
        func withRatio(_ seconds: Double) -> String { rate(seconds) + String(format: " (%.2f×)", blas / seconds) }
        let ofPeak = peak.map { String(format: " %.0f%%", 100 * flop / fp32 / 1e9 / ($0 * Double(threads))) } ?? ""
        print(pad(shape, 34) + pad("\(threads)", 4) + pad(rate(blas), 10) + pad(withRatio(fp32) + ofPeak, 18 + ofPeak.count)
              + pad(withRatio(bf16), 18) + pad(int8.map(withRatio) ?? "-", 18))
    }
}

private func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}
