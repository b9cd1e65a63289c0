// NVRTC: CUDA C source → cubin for one GPU architecture, at run time. Compiled
// images are cached under $STRATA_CUDA_CACHE (default ~/.cache/strata/cuda) by the
// SHA-256 of source + architecture + options + NVRTC version, so a second run
// loads the cubin instead of compiling. A compile error throws with NVRTC's log.
// Needs no GPU: the test suite compiles every kernel with the pip wheel alone.
// Leaves out: PTX output and JIT linking (cubin only), header includes.

import Foundation
import StrataCore

typealias NVRTCResult = Int32

struct NVRTCAPI {
    let nvrtcVersion: @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> NVRTCResult
    let nvrtcCreateProgram: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafePointer<CChar>, UnsafePointer<CChar>, Int32,
                                            UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> NVRTCResult
    let nvrtcCompileProgram: @convention(c) (OpaquePointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> NVRTCResult
    let nvrtcGetProgramLogSize: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>) -> NVRTCResult
    let nvrtcGetProgramLog: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>) -> NVRTCResult
    let nvrtcGetCUBINSize: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>) -> NVRTCResult
    let nvrtcGetCUBIN: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>) -> NVRTCResult
    let nvrtcDestroyProgram: @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> NVRTCResult
    let nvrtcGetErrorString: @convention(c) (NVRTCResult) -> UnsafePointer<CChar>?

    static let symbols = ["nvrtcVersion", "nvrtcCreateProgram", "nvrtcCompileProgram", "nvrtcGetProgramLogSize", "nvrtcGetProgramLog",
                          "nvrtcGetCUBINSize", "nvrtcGetCUBIN", "nvrtcDestroyProgram", "nvrtcGetErrorString"]

    init(_ lib: OpenedLibrary) throws {
        nvrtcVersion = try lib.symbol("nvrtcVersion", as: type(of: nvrtcVersion))
        nvrtcCreateProgram = try lib.symbol("nvrtcCreateProgram", as: type(of: nvrtcCreateProgram))
        nvrtcCompileProgram = try lib.symbol("nvrtcCompileProgram", as: type(of: nvrtcCompileProgram))
        nvrtcGetProgramLogSize = try lib.symbol("nvrtcGetProgramLogSize", as: type(of: nvrtcGetProgramLogSize))
        nvrtcGetProgramLog = try lib.symbol("nvrtcGetProgramLog", as: type(of: nvrtcGetProgramLog))
        nvrtcGetCUBINSize = try lib.symbol("nvrtcGetCUBINSize", as: type(of: nvrtcGetCUBINSize))
        nvrtcGetCUBIN = try lib.symbol("nvrtcGetCUBIN", as: type(of: nvrtcGetCUBIN))
        nvrtcDestroyProgram = try lib.symbol("nvrtcDestroyProgram", as: type(of: nvrtcDestroyProgram))
        nvrtcGetErrorString = try lib.symbol("nvrtcGetErrorString", as: type(of: nvrtcGetErrorString))
    }
}

public final class NVRTC: @unchecked Sendable {
    let api: NVRTCAPI
    public let library: OpenedLibrary
    public let version: (major: Int, minor: Int)

    public init() throws {
        library = try CUDALibraries.open("nvrtc")
        api = try NVRTCAPI(library)
        var major: Int32 = 0, minor: Int32 = 0
        _ = api.nvrtcVersion(&major, &minor)
        version = (Int(major), Int(minor))
    }

    /// Options every Strata kernel is compiled with. No fast-math: the kernels must match the CPU to 1e-5.
    public static func options(architecture: String) -> [String] {
        ["--gpu-architecture=\(architecture)", "--std=c++17", "-default-device"]
    }

    /// Compiles `source` to a cubin for `architecture` ("sm_90"), through the cache unless `useCache` is false.
    public func cubin(source: String, name: String, architecture: String, useCache: Bool = true) throws -> [UInt8] {
        let opts = NVRTC.options(architecture: architecture)
        let key = SHA256.hex(source + "\u{0}" + opts.joined(separator: " ") + "\u{0}nvrtc \(version.major).\(version.minor)")
        let cacheFile = NVRTC.cacheDirectory.appendingPathComponent("\(name)-\(architecture)-\(key.prefix(16)).cubin")
        if useCache, let data = try? Data(contentsOf: cacheFile), !data.isEmpty { return [UInt8](data) }
        let image = try compile(source: source, name: name, options: opts)
        if useCache {
            try? FileManager.default.createDirectory(at: NVRTC.cacheDirectory, withIntermediateDirectories: true)
            let tmp = cacheFile.appendingPathExtension("tmp-\(getpid())")
            if (try? Data(image).write(to: tmp)) != nil { _ = try? FileManager.default.replaceItemAt(cacheFile, withItemAt: tmp) }
        }
        return image
    }

    public static var cacheDirectory: URL {
        if let d = ProcessInfo.processInfo.environment["STRATA_CUDA_CACHE"] { return URL(fileURLWithPath: d) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/strata/cuda")
    }

    /// One NVRTC compilation; throws with the compiler's log on failure.
    public func compile(source: String, name: String, options: [String]) throws -> [UInt8] {
        var prog: OpaquePointer?
        try check(api.nvrtcCreateProgram(&prog, source, name + ".cu", 0, nil, nil), "nvrtcCreateProgram")
        defer { _ = api.nvrtcDestroyProgram(&prog) }
        let cOpts = options.map { strdup($0) }
        defer { cOpts.forEach { free($0) } }
        let r = cOpts.map { UnsafePointer<CChar>($0) }.withUnsafeBufferPointer { api.nvrtcCompileProgram(prog, Int32(options.count), $0.baseAddress) }
        guard r == 0 else {
            throw StrataError(.backend, "nvrtc", "compiling \(name).cu for \(options.first ?? "") failed: \(errorString(r))\n\(log(prog))")
        }
        var size = 0
        try check(api.nvrtcGetCUBINSize(prog, &size), "nvrtcGetCUBINSize")
        var image = [CChar](repeating: 0, count: size)
        try check(api.nvrtcGetCUBIN(prog, &image), "nvrtcGetCUBIN")
        return image.map { UInt8(bitPattern: $0) }
    }

    func log(_ prog: OpaquePointer?) -> String {
        var size = 0
        guard api.nvrtcGetProgramLogSize(prog, &size) == 0, size > 1 else { return "" }
        var buf = [CChar](repeating: 0, count: size)
        _ = api.nvrtcGetProgramLog(prog, &buf)
        return cString(buf)
    }

    func errorString(_ r: NVRTCResult) -> String { api.nvrtcGetErrorString(r).map { String(cString: $0) } ?? "NVRTC error \(r)" }

    func check(_ r: NVRTCResult, _ call: String) throws {
        guard r != 0 else { return }
        throw StrataError(.backend, "nvrtc", "\(call) failed: \(errorString(r))")
    }
}
