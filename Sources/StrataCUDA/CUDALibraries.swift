// The CUDA libraries Strata uses — the driver (libcuda), NVRTC and cuBLAS — opened
// with dlopen at run time and bound with dlsym, so nothing CUDA is needed to build
// Strata and a machine without a GPU only fails when `--device cuda` is asked for.
//
// Search order for NVRTC and cuBLAS (the driver always comes from the system, as
// libcuda.so.1 is installed with the kernel driver):
//   1. every directory in $STRATA_CUDA_LIBS (colon-separated);
//   2. NVIDIA's PyPI wheels (`nvidia-cuda-nvrtc`, `nvidia-cublas`): the `nvidia` package
//      of the `python3` on PATH, its `cu13/lib`, `cu12/lib`, `cuda_nvrtc/lib`, `cublas/lib`;
//   3. $CUDA_HOME/lib64 (or $CUDA_PATH), /usr/local/cuda/lib64, /usr/local/cuda/targets/x86_64-linux/lib;
//   4. the dynamic linker's own path (ld.so.conf, LD_LIBRARY_PATH).
// Each library is tried by soname, newest major version first (13, then 12).
// Exported names are the versioned ones where the headers map to them
// (cuMemAlloc_v2, cublasSgemm_v2, …): dlsym sees the export, not the macro.
// Leaves out: CUDA streams other than the default one, the runtime API (libcudart).

import Foundation
import StrataCore
#if canImport(Glibc)
import Glibc
#endif

/// One opened shared library and the path it came from.
public struct OpenedLibrary: @unchecked Sendable {
    public let name: String
    public let path: String
    let handle: UnsafeMutableRawPointer

    /// The address of `symbol`, or an error naming the library and the symbol.
    func symbol<F>(_ symbol: String, as _: F.Type) throws -> F {
        guard let p = dlsym(handle, symbol) else {
            throw StrataError(.backend, "cuda", "\(path) does not export \(symbol)",
                              fix: "install a newer \(name) (Strata needs CUDA 12 or 13)")
        }
        return unsafeBitCast(p, to: F.self)
    }
}

public enum CUDALibraries {
    /// Sonames tried for each library, newest first.
    static let sonames: [String: [String]] = [
        "driver": ["libcuda.so.1", "libcuda.so"],
        "nvrtc": ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"],
        "cublas": ["libcublas.so.13", "libcublas.so.12", "libcublas.so"],
    ]

    /// Directories searched, in order, before the dynamic linker's own path.
    public static func searchDirectories(environment env: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var dirs: [String] = []
        if let s = env["STRATA_CUDA_LIBS"] { dirs += s.split(separator: ":").map(String.init) }
        for root in pythonNvidiaRoots() {
            dirs += ["cu13/lib", "cu12/lib", "cuda_nvrtc/lib", "cublas/lib", "cuda_runtime/lib"].map { root + "/" + $0 }
        }
        for home in [env["CUDA_HOME"], env["CUDA_PATH"], "/usr/local/cuda"].compactMap({ $0 }) {
            dirs += [home + "/lib64", home + "/targets/x86_64-linux/lib"]
        }
        return dirs.filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// Opens `which` ("driver", "nvrtc" or "cublas"): the first soname found in the search order.
    public static func open(_ which: String) throws -> OpenedLibrary {
        let names = sonames[which] ?? [which]
        let dirs = which == "driver" ? [] : searchDirectories()
        var tried: [String] = []
        for dir in dirs {
            for name in names {
                let path = dir + "/" + name
                guard FileManager.default.fileExists(atPath: path) else { continue }
                tried.append(path)
                if let h = dlopen(path, RTLD_NOW | RTLD_GLOBAL) { return OpenedLibrary(name: which, path: path, handle: h) }
            }
        }
        for name in names {
            tried.append(name)
            if let h = dlopen(name, RTLD_NOW | RTLD_GLOBAL) { return OpenedLibrary(name: which, path: name, handle: h) }
        }
        throw StrataError(.backend, "cuda", "could not open the CUDA \(which) library (tried \(tried.joined(separator: ", ")))",
                          fix: missingFix(which))
    }

    static func missingFix(_ which: String) -> String {
        switch which {
        case "driver": return "--device cuda needs an NVIDIA GPU with its driver installed (libcuda.so.1); on this machine train with --device cpu"
        case "nvrtc": return "pip install nvidia-cuda-nvrtc (or install CUDA), or point STRATA_CUDA_LIBS at the directory holding libnvrtc.so"
        default: return "pip install nvidia-cublas (or install CUDA), or point STRATA_CUDA_LIBS at the directory holding libcublas.so"
        }
    }

    /// The `nvidia` package directories of the `python3` on PATH (empty when there is none).
    static func pythonNvidiaRoots() -> [String] {
        let probe = "import sys\ntry:\n import nvidia\n print('\\n'.join(nvidia.__path__))\nexcept Exception:\n pass\n"
        guard let python = findOnPath("python3") else { return [] }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", probe]
        let out = Pipe()
        p.standardOutput = out; p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return [] }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    static func findOnPath(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
