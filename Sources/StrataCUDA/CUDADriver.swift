// The CUDA driver API as Strata uses it: one device, its primary context, device
// memory (DeviceBuffer frees itself), modules loaded from cubin, kernel launches on
// the default stream, and host↔device copies. Every call's result is checked and a
// failure throws with the call's name and the driver's own words.
// Leaves out: streams, events, graphs, managed memory (never used: see the device notes).

import Foundation
import StrataCore

typealias CUresult = Int32

/// Function pointers into libcuda, bound once.
struct DriverAPI {
    let cuInit: @convention(c) (UInt32) -> CUresult
    let cuDriverGetVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> CUresult
    let cuDeviceGetCount: @convention(c) (UnsafeMutablePointer<Int32>) -> CUresult
    let cuDeviceGet: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> CUresult
    let cuDeviceGetName: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> CUresult
    let cuDeviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> CUresult
    let cuDevicePrimaryCtxRetain: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32) -> CUresult
    let cuCtxSetCurrent: @convention(c) (OpaquePointer?) -> CUresult
    let cuCtxSynchronize: @convention(c) () -> CUresult
    let cuMemGetInfo: @convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> CUresult
    let cuMemAlloc: @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> CUresult
    let cuMemFree: @convention(c) (UInt64) -> CUresult
    let cuMemcpyHtoD: @convention(c) (UInt64, UnsafeRawPointer, Int) -> CUresult
    let cuMemcpyDtoH: @convention(c) (UnsafeMutableRawPointer, UInt64, Int) -> CUresult
    let cuMemsetD32: @convention(c) (UInt64, UInt32, Int) -> CUresult
    let cuModuleLoadData: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafeRawPointer) -> CUresult
    let cuModuleGetFunction: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, OpaquePointer?, UnsafePointer<CChar>) -> CUresult
    let cuLaunchKernel: @convention(c) (OpaquePointer?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, OpaquePointer?,
                                        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> CUresult
    let cuGetErrorString: @convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> CUresult

    /// The exported (versioned) names this binding uses; the test suite checks them against libcuda's exports.
    static let symbols = ["cuInit", "cuDriverGetVersion", "cuDeviceGetCount", "cuDeviceGet", "cuDeviceGetName", "cuDeviceGetAttribute",
                          "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent", "cuCtxSynchronize", "cuMemGetInfo_v2", "cuMemAlloc_v2",
                          "cuMemFree_v2", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2", "cuMemsetD32_v2",
                          "cuModuleLoadData", "cuModuleGetFunction", "cuLaunchKernel", "cuGetErrorString"]

    init(_ lib: OpenedLibrary) throws {
        cuInit = try lib.symbol("cuInit", as: type(of: cuInit))
        cuDriverGetVersion = try lib.symbol("cuDriverGetVersion", as: type(of: cuDriverGetVersion))
        cuDeviceGetCount = try lib.symbol("cuDeviceGetCount", as: type(of: cuDeviceGetCount))
        cuDeviceGet = try lib.symbol("cuDeviceGet", as: type(of: cuDeviceGet))
        cuDeviceGetName = try lib.symbol("cuDeviceGetName", as: type(of: cuDeviceGetName))
        cuDeviceGetAttribute = try lib.symbol("cuDeviceGetAttribute", as: type(of: cuDeviceGetAttribute))
        cuDevicePrimaryCtxRetain = try lib.symbol("cuDevicePrimaryCtxRetain", as: type(of: cuDevicePrimaryCtxRetain))
        cuCtxSetCurrent = try lib.symbol("cuCtxSetCurrent", as: type(of: cuCtxSetCurrent))
        cuCtxSynchronize = try lib.symbol("cuCtxSynchronize", as: type(of: cuCtxSynchronize))
        cuMemGetInfo = try lib.symbol("cuMemGetInfo_v2", as: type(of: cuMemGetInfo))
        cuMemAlloc = try lib.symbol("cuMemAlloc_v2", as: type(of: cuMemAlloc))
        cuMemFree = try lib.symbol("cuMemFree_v2", as: type(of: cuMemFree))
        cuMemcpyHtoD = try lib.symbol("cuMemcpyHtoD_v2", as: type(of: cuMemcpyHtoD))
        cuMemcpyDtoH = try lib.symbol("cuMemcpyDtoH_v2", as: type(of: cuMemcpyDtoH))
        cuMemsetD32 = try lib.symbol("cuMemsetD32_v2", as: type(of: cuMemsetD32))
        cuModuleLoadData = try lib.symbol("cuModuleLoadData", as: type(of: cuModuleLoadData))
        cuModuleGetFunction = try lib.symbol("cuModuleGetFunction", as: type(of: cuModuleGetFunction))
        cuLaunchKernel = try lib.symbol("cuLaunchKernel", as: type(of: cuLaunchKernel))
        cuGetErrorString = try lib.symbol("cuGetErrorString", as: type(of: cuGetErrorString))
    }
}

/// One GPU (device 0 unless told otherwise) with its primary context current on the calling thread.
public final class CUDADevice: @unchecked Sendable {
    let api: DriverAPI
    public let library: OpenedLibrary
    public let name: String
    public let computeCapability: (major: Int, minor: Int)
    public let multiprocessors: Int
    public let driverVersion: Int
    private var context: OpaquePointer?
    /// When set, every kernel launch and cuBLAS call synchronises and adds its time here (profiling runs only).
    public var profile: GPUProfile?

    public init(ordinal: Int = 0) throws {
        library = try CUDALibraries.open("driver")
        api = try DriverAPI(library)
        let api = self.api
        func check(_ r: CUresult, _ call: String) throws { try CUDADevice.check(api, r, call) }
        try check(api.cuInit(0), "cuInit")
        var count: Int32 = 0
        try check(api.cuDeviceGetCount(&count), "cuDeviceGetCount")
        guard ordinal < Int(count) else {
            throw StrataError(.backend, "cuda", "device \(ordinal) asked for, but the driver sees \(count) GPU(s)",
                              fix: count == 0 ? "run on a machine with an NVIDIA GPU, or train with --device cpu" : "use a device index below \(count)")
        }
        var dev: Int32 = 0
        try check(api.cuDeviceGet(&dev, Int32(ordinal)), "cuDeviceGet")
        var buf = [CChar](repeating: 0, count: 256)
        try check(api.cuDeviceGetName(&buf, 255, dev), "cuDeviceGetName")
        name = cString(buf)
        var major: Int32 = 0, minor: Int32 = 0, sms: Int32 = 0, version: Int32 = 0
        try check(api.cuDeviceGetAttribute(&major, 75, dev), "cuDeviceGetAttribute(major)")
        try check(api.cuDeviceGetAttribute(&minor, 76, dev), "cuDeviceGetAttribute(minor)")
        try check(api.cuDeviceGetAttribute(&sms, 16, dev), "cuDeviceGetAttribute(multiprocessors)")
        try check(api.cuDriverGetVersion(&version), "cuDriverGetVersion")
        computeCapability = (Int(major), Int(minor)); multiprocessors = Int(sms); driverVersion = Int(version)
        var ctx: OpaquePointer?
        try check(api.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain")
        try check(api.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
        context = ctx
    }

    static func check(_ api: DriverAPI, _ r: CUresult, _ call: String) throws {
        guard r != 0 else { return }
        var msg: UnsafePointer<CChar>?
        _ = api.cuGetErrorString(r, &msg)
        let words = msg.map { String(cString: $0) } ?? "unknown error"
        throw StrataError(.backend, "cuda", "\(call) failed: \(words) (CUresult \(r))")
    }

    func check(_ r: CUresult, _ call: String) throws { try CUDADevice.check(api, r, call) }

    public func synchronize() throws { try check(api.cuCtxSynchronize(), "cuCtxSynchronize") }

    /// Free and total device memory in bytes.
    public func memoryInfo() throws -> (free: Int, total: Int) {
        var free = 0, total = 0
        try check(api.cuMemGetInfo(&free, &total), "cuMemGetInfo")
        return (free, total)
    }

    /// The architecture NVRTC should compile for, e.g. "sm_90".
    public var architecture: String { "sm_\(computeCapability.major)\(computeCapability.minor)" }

    public func loadModule(cubin: [UInt8]) throws -> CUDAModule {
        var module: OpaquePointer?
        try cubin.withUnsafeBytes { try check(api.cuModuleLoadData(&module, $0.baseAddress!), "cuModuleLoadData") }
        return CUDAModule(device: self, handle: module)
    }
}

/// Time per operation name, each measured between two device synchronisations.
public final class GPUProfile {
    public private(set) var seconds: [String: Double] = [:]
    public private(set) var calls: [String: Int] = [:]
    public init() {}
    func add(_ name: String, _ s: Double) { seconds[name, default: 0] += s; calls[name, default: 0] += 1 }
}

extension CUDADevice {
    /// Runs `body`; under a profile, synchronises after it and charges the time to `name`.
    func profiled(_ name: String, _ body: () throws -> Void) throws {
        guard let profile else { return try body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        try synchronize()
        profile.add(name, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
}

/// A NUL-terminated C buffer as a Swift string.
func cString(_ buf: [CChar]) -> String {
    String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Device memory for `count` elements of T; freed when the last reference goes.
public final class DeviceBuffer<T>: @unchecked Sendable {
    public let device: CUDADevice
    public let count: Int
    public let address: UInt64

    public init(_ device: CUDADevice, count: Int) throws {
        self.device = device; self.count = count
        var p: UInt64 = 0
        let bytes = max(count, 1) * MemoryLayout<T>.stride
        let r = device.api.cuMemAlloc(&p, bytes)
        if r != 0 {
            let free = (try? device.memoryInfo().free) ?? 0
            throw StrataError(.backend, "cuda", "could not allocate \(bytes) bytes on \(device.name) (\(free) bytes free, CUresult \(r))",
                              fix: "use a smaller batch or context (train.batch_size, model.n_positions)")
        }
        address = p
    }

    public convenience init(_ device: CUDADevice, _ values: [T]) throws {
        try self.init(device, count: values.count)
        try upload(values)
    }

    deinit { _ = device.api.cuMemFree(address) }

    public var bytes: Int { count * MemoryLayout<T>.stride }

    public func upload(_ values: [T], at offset: Int = 0) throws {
        precondition(offset + values.count <= count, "DeviceBuffer.upload: \(values.count) values at \(offset) into \(count)")
        guard !values.isEmpty else { return }
        try values.withUnsafeBytes {
            try device.check(device.api.cuMemcpyHtoD(address + UInt64(offset * MemoryLayout<T>.stride), $0.baseAddress!, $0.count), "cuMemcpyHtoD")
        }
    }

    public func download(count n: Int? = nil, at offset: Int = 0) throws -> [T] {
        let n = n ?? (count - offset)
        precondition(offset + n <= count, "DeviceBuffer.download: \(n) values at \(offset) from \(count)")
        var out = [T](unsafeUninitializedCapacity: n) { _, c in c = n }
        guard n > 0 else { return out }
        try out.withUnsafeMutableBytes {
            try device.check(device.api.cuMemcpyDtoH($0.baseAddress!, address + UInt64(offset * MemoryLayout<T>.stride), $0.count), "cuMemcpyDtoH")
        }
        return out
    }

    /// Every 32-bit word set to `pattern` (0 zeroes floats and ints).
    public func fill32(_ pattern: UInt32 = 0) throws {
        precondition(MemoryLayout<T>.stride == 4)
        try device.check(device.api.cuMemsetD32(address, pattern, count), "cuMemsetD32")
    }

    /// The device address of element `i` (for kernels and cuBLAS working on part of a buffer).
    @inline(__always) public func at(_ i: Int) -> UInt64 { address + UInt64(i * MemoryLayout<T>.stride) }
}

/// A loaded module: look kernels up by name, launch them with typed arguments.
public final class CUDAModule: @unchecked Sendable {
    let device: CUDADevice
    let handle: OpaquePointer?
    private var functions: [String: OpaquePointer?] = [:]

    init(device: CUDADevice, handle: OpaquePointer?) { self.device = device; self.handle = handle }

    func function(_ name: String) throws -> OpaquePointer? {
        if let f = functions[name] { return f }
        var f: OpaquePointer?
        try name.withCString { try device.check(device.api.cuModuleGetFunction(&f, handle, $0), "cuModuleGetFunction(\(name))") }
        functions[name] = f
        return f
    }

    /// Launch `name` over `grid` blocks of `block` threads with kernel arguments `args` (each a
    /// KernelArgument: device addresses as UInt64, Int32, Float).
    public func launch(_ name: String, grid: (Int, Int, Int), block: (Int, Int, Int), sharedBytes: Int = 0, _ args: [KernelArgument]) throws {
        let f = try function(name)
        // Each argument lives in its own heap cell for the duration of the call; cuLaunchKernel copies them.
        let cells: [UnsafeMutableRawPointer] = args.map { $0.cell() }
        defer { cells.forEach { $0.deallocate() } }
        var params: [UnsafeMutableRawPointer?] = cells
        try device.profiled(name) {
            let r = params.withUnsafeMutableBufferPointer { p in
                device.api.cuLaunchKernel(f, UInt32(grid.0), UInt32(grid.1), UInt32(grid.2), UInt32(block.0), UInt32(block.1), UInt32(block.2),
                                          UInt32(sharedBytes), nil, p.baseAddress, nil)
            }
            try device.check(r, "cuLaunchKernel(\(name), grid \(grid), block \(block))")
        }
    }
}

/// A kernel argument by value.
public enum KernelArgument {
    case pointer(UInt64)
    case int(Int32)
    case float(Float)
    case long(Int)

    func cell() -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
        switch self {
        case .pointer(let v): p.storeBytes(of: v, as: UInt64.self)
        case .int(let v): p.storeBytes(of: v, as: Int32.self)
        case .float(let v): p.storeBytes(of: v, as: Float.self)
        case .long(let v): p.storeBytes(of: Int64(v), as: Int64.self)
        }
        return p
    }
}
