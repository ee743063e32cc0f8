import Foundation
import SiftKernelsC

/// The families of kernels Sift can run, fastest first. The best one the CPU has is chosen at run time; a lower one
/// can be forced for a whole process with the environment variable `SIFT_KERNELS` (tests and benchmarks run every
/// tier this way on any machine, and a user can rule out a suspect kernel):
///
/// | tier | linear layers | attention | layer norm |
/// |---|---|---|---|
/// | `avx512` | AVX-512 FMA fp32, `vdpbf16ps` bf16, `vpdpbusd` int8 | fused AVX-512 (fp32, bf16) | AVX-512 |
/// | `avx2` | AVX2 FMA fp32 (bf16 requests run it too), `vpmaddwd` (int16) or AVX-VNNI int8 | fused AVX2 fp32 | AVX2 |
/// | `portable` | plain C fp32 (any CPU, aarch64 included; bf16 and int8 requests too) | fused plain C | plain C |
/// | `openblas` | OpenBLAS sgemm (int8 and bf16 requests run fp32) | sgemm + Swift softmax | plain C |
///
/// A tier above what the CPU has is not an error: the process runs the best tier the CPU has at or below it.
public enum KernelTier: String, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case avx512, avx2, portable, openblas

    public var description: String { rawValue }

    /// Order of preference (`avx512` < `avx2` means avx512 is preferred).
    public static func < (lhs: KernelTier, rhs: KernelTier) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Whether this CPU can run the tier (portable and OpenBLAS run everywhere).
    public var isSupportedByCPU: Bool {
        switch self {
        case .avx512: sift_kernel_supported_by_cpu(Int32(SIFT_KERNEL_AVX512)) != 0
        case .avx2: sift_kernel_supported_by_cpu(Int32(SIFT_KERNEL_AVX2)) != 0
        case .portable, .openblas: true
        }
    }

    /// Every tier this CPU can run, fastest first: what the test suites and `sift-bench gemm` iterate over.
    public static var supportedByCPU: [KernelTier] { allCases.filter(\.isSupportedByCPU) }

    /// The tier `SIFT_KERNELS` asks for (nil when unset, empty or `auto`), or the problem with its value.
    public static let requested: Result<KernelTier?, KernelTierError> = {
        guard let value = ProcessInfo.processInfo.environment["SIFT_KERNELS"], !value.isEmpty, value != "auto" else {
            return .success(nil)
        }
        guard let tier = KernelTier(rawValue: value) else { return .failure(KernelTierError(value: value)) }
        return .success(tier)
    }()

    /// The tier this process runs: the requested one (or the fastest) lowered to what the CPU has. The C kernels read
    /// `SIFT_KERNELS` themselves; the tier is fixed for the life of the process.
    public static let active: KernelTier = {
        let requested = (try? KernelTier.requested.get()) ?? nil
        return supportedByCPU.first { $0 >= (requested ?? .avx512) } ?? .openblas
    }()

    /// One line for `sift --version` and benchmark tables: the active tier and why, and the CPU features it rests on.
    public static var summary: String {
        var line = "kernels: \(active)"
        switch requested {
        case .success(let tier?) where tier != active: line += " (SIFT_KERNELS=\(tier); this CPU lacks it)"
        case .success(let tier?): line += " (forced by SIFT_KERNELS=\(tier))"
        case .success(nil): line += " (fastest this CPU has)"
        case .failure(let error): line += " (\(error.description); ignored)"
        }
        let features: [(String, Int32)] = [("avx2+fma", Int32(SIFT_KERNEL_AVX2)), ("avx-vnni", Int32(SIFT_KERNEL_AVX_VNNI)),
                                           ("avx512", Int32(SIFT_KERNEL_AVX512)), ("avx512-bf16", Int32(SIFT_KERNEL_AVX512_BF16)),
                                           ("avx512-vnni", Int32(SIFT_KERNEL_AVX512_VNNI))]
        let present = features.filter { sift_kernel_supported_by_cpu($0.1) != 0 }.map(\.0)
        line += "; CPU: \(present.isEmpty ? "no x86 vector features used by Sift" : present.joined(separator: ", "))"
        line += "; fp32 \(PackedLinear.activeKernel(for: .float32)), bf16 \(PackedLinear.activeKernel(for: .bfloat16)), "
            + "int8 \(PackedLinear.activeKernel(for: .int8))"
        return line
    }
}

/// `SIFT_KERNELS` holds something other than a tier name.
public struct KernelTierError: Error, Equatable, CustomStringConvertible {
    public let value: String
    public var description: String {
        "SIFT_KERNELS=\(value) is not a kernel tier (expected \(KernelTier.allCases.map(\.rawValue).joined(separator: ", ")) or auto)"
    }
}
