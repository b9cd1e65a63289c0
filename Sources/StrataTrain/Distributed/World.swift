// World: the processes that train one run together, over MPI (Open MPI through
// the CMPI shim). A plain `strata pretrain` is world size 1 and never starts MPI
// (no launcher, no start-up cost); under `mpirun -n N` every rank starts MPI once,
// from the main thread, and every collective is called from that thread only.
// Errors in a collective abort the whole job (MPI_ERRORS_ARE_FATAL), and a rank
// that fails on its own calls `abort` so no other rank waits in a collective.
// Leaves out: sub-communicators, non-blocking collectives (no overlap of the
// all-reduce with the backward), GPUs (NCCL).

import Foundation
import CMPI
import StrataCore

public final class World {
    public let rank: Int
    public let size: Int
    public var isRoot: Bool { rank == 0 }
    /// Seconds spent summing gradients over the ranks (all-reduce, or ZeRO-1's reduce to the owners).
    public private(set) var reduceSeconds = 0.0
    /// Seconds spent broadcasting updated weights from their owners (ZeRO-1).
    public private(set) var gatherSeconds = 0.0
    private var finished = false

    /// Environment variables a launcher sets in every rank (Open MPI's mpirun, and PMIx launchers).
    static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK"]

    /// Whether this process was started by an MPI launcher.
    public static func launched(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        launcherVariables.contains { env[$0] != nil }
    }

    /// Starts MPI when the process was launched by mpirun; nil otherwise (world size 1, MPI untouched).
    public static func fromLauncher(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> World? {
        guard launched(env) else { return nil }
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, strata_mpi_thread_funneled(), &provided), "MPI_Init_thread")
        MPI_Comm_set_errhandler(strata_mpi_comm_world(), strata_mpi_errors_are_fatal())
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(strata_mpi_comm_world(), &rank)
        MPI_Comm_size(strata_mpi_comm_world(), &size)
        return World(rank: Int(rank), size: Int(size))
    }

    private init(rank: Int, size: Int) { self.rank = rank; self.size = size }

    static func check(_ code: Int32, _ call: String) throws {
        guard code == strata_mpi_success() else {
            throw StrataError.io("start MPI", "\(call) returned error \(code)", fix: "check the mpirun command line and Open MPI's install (openmpi-bin)")
        }
    }

    /// Largest count one MPI call takes (its count is a C int); longer buffers go in pieces.
    static let chunk = 1 << 30

    /// Sums `count` floats element-wise over all ranks, in place; every rank ends with the same bits.
    public func allReduceSum(_ p: UnsafeMutablePointer<Float>, count: Int) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        var off = 0
        while off < count {
            let n = min(World.chunk, count - off)
            MPI_Allreduce(strata_mpi_in_place(), p + off, Int32(n), strata_mpi_float(), strata_mpi_sum(), strata_mpi_comm_world())
            off += n
        }
        reduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    }

    /// Element-wise sum of a small vector of doubles over all ranks.
    public func allReduceSum(_ values: [Double]) -> [Double] {
        var v = values
        v.withUnsafeMutableBufferPointer { b in
            _ = MPI_Allreduce(strata_mpi_in_place(), b.baseAddress, Int32(b.count), strata_mpi_double(), strata_mpi_sum(), strata_mpi_comm_world())
        }
        return v
    }

    /// The largest of every rank's value.
    public func allReduceMax(_ value: Int) -> Int {
        var v = Int64(value)
        MPI_Allreduce(strata_mpi_in_place(), &v, 1, strata_mpi_long_long(), strata_mpi_max(), strata_mpi_comm_world())
        return Int(v)
    }

    /// Rank 0's floats, copied into every rank's buffer.
    public func broadcast(_ p: UnsafeMutablePointer<Float>, count: Int) {
        var off = 0
        while off < count {
            let n = min(World.chunk, count - off)
            MPI_Bcast(p + off, Int32(n), strata_mpi_float(), 0, strata_mpi_comm_world())
            off += n
        }
    }

    /// Rank 0's bytes on every rank (the others' `data` is ignored).
    public func broadcast(_ data: Data) -> Data {
        var length = Int64(data.count)
        MPI_Bcast(&length, 1, strata_mpi_long_long(), 0, strata_mpi_comm_world())
        var bytes = isRoot ? [UInt8](data) : [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBytes { b in
            _ = MPI_Bcast(b.baseAddress, Int32(b.count), strata_mpi_byte(), 0, strata_mpi_comm_world())
        }
        return Data(bytes)
    }

    /// Rank `root`'s floats, copied into every rank's buffer (ZeRO-1's all-gather of the weights, one tensor at a time).
    public func gather(_ p: UnsafeMutablePointer<Float>, count: Int, from root: Int) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { gatherSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 }
        var off = 0
        while off < count {
            let n = min(World.chunk, count - off)
            MPI_Bcast(p + off, Int32(n), strata_mpi_float(), Int32(root), strata_mpi_comm_world())
            off += n
        }
    }

    /// Sums `count` floats element-wise over all ranks into rank `root`'s buffer (in place there); the other
    /// ranks' buffers are left as they were. With 2 ranks each element is one addition, as in `allReduceSum`.
    public func reduceSum(_ p: UnsafeMutablePointer<Float>, count: Int, to root: Int) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        var off = 0
        while off < count {
            let n = min(World.chunk, count - off)
            let send: UnsafeRawPointer? = rank == root ? UnsafeRawPointer(strata_mpi_in_place()) : UnsafeRawPointer(p + off)
            MPI_Reduce(send, p + off, Int32(n), strata_mpi_float(), strata_mpi_sum(), Int32(root), strata_mpi_comm_world())
            off += n
        }
        reduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    }

    /// Sends `count` floats to rank `to` (which calls `receive` with this rank as `from`).
    public func send(_ p: UnsafePointer<Float>, count: Int, to: Int) {
        var off = 0
        while off < count {
            let n = min(World.chunk, count - off)
            MPI_Send(p + off, Int32(n), strata_mpi_float(), Int32(to), 0, strata_mpi_comm_world())
            off += n
        }
    }

    /// Receives `count` floats sent by rank `from` into `p`.
    public func receive(_ p: UnsafeMutablePointer<Float>, count: Int, from: Int) {
        var off = 0
        while off < count {
            let n = min(World.chunk, count - off)
            MPI_Recv(p + off, Int32(n), strata_mpi_float(), Int32(from), 0, strata_mpi_comm_world(), strata_mpi_status_ignore())
            off += n
        }
    }

    /// Every rank's bytes, in rank order, on every rank. Every rank sees the same total, so all refuse one too large alike.
    public func allGather(_ data: Data) throws -> [Data] {
        var lengths = [Int64](repeating: 0, count: size)
        var mine = Int64(data.count)
        lengths.withUnsafeMutableBufferPointer { b in
            _ = MPI_Allgather(&mine, 1, strata_mpi_long_long(), b.baseAddress, 1, strata_mpi_long_long(), strata_mpi_comm_world())
        }
        let total = Int(lengths.reduce(0, +))
        guard total < Int(Int32.max) else {
            throw StrataError.config("gather rollouts over \(size) ranks", "the ranks' rollouts take \(total) bytes, more than one MPI call carries (2 GiB)",
                                     fix: "sample fewer or shorter replies per step (prompts per step, group size, max_new_tokens)")
        }
        let counts = lengths.map { Int32($0) }
        var displs = [Int32](repeating: 0, count: size)
        for r in 1..<max(1, size) { displs[r] = displs[r - 1] + counts[r - 1] }
        var out = [UInt8](repeating: 0, count: max(1, total))
        let send = [UInt8](data)
        send.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { o in
                _ = MPI_Allgatherv(s.baseAddress, Int32(send.count), strata_mpi_byte(), o.baseAddress, counts, displs, strata_mpi_byte(),
                                   strata_mpi_comm_world())
            }
        }
        return (0..<size).map { r in Data(out[Int(displs[r])..<(Int(displs[r]) + Int(counts[r]))]) }
    }

    public func barrier() { MPI_Barrier(strata_mpi_comm_world()) }

    /// Ends the whole job (every rank) with `code`: what a rank does on an error the others cannot see.
    public func abort(_ code: Int32) -> Never {
        MPI_Abort(strata_mpi_comm_world(), code)
        exit(code)
    }

    /// Closes MPI on a clean exit (every rank must reach it).
    public func finish() {
        guard !finished else { return }
        finished = true
        MPI_Finalize()
    }
}
