// StrataError: the one error type of the project. Every message carries the
// operation that failed, what it saw (shapes, file, line, field) and, where there
// is one, the fix; `file(_:path:_:)` turns Foundation/POSIX file errors into words.
// Leaves out: error codes for programmatic matching beyond `kind`.

import Foundation

public struct StrataError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        case shape          // tensor shapes do not fit the operation
        case io             // a file could not be read or written
        case format         // a file's contents break its format's rules
        case config         // a recipe, config.json or option is invalid
        case data           // a dataset line or document is invalid
        case numeric        // NaN/Inf or another numeric failure
        case backend        // oneDNN or another library reported failure
        case state          // an object used in the wrong state (e.g. backward twice)
    }

    public let kind: Kind
    public let operation: String
    public let message: String
    public let fix: String?

    public init(_ kind: Kind, _ operation: String, _ message: String, fix: String? = nil) {
        self.kind = kind
        self.operation = operation
        self.message = message
        self.fix = fix
    }

    public var description: String {
        var s = "\(operation): \(message)"
        if let fix { s += " (fix: \(fix))" }
        return s
    }

    public static func shape(_ op: String, _ msg: String, fix: String? = nil) -> StrataError { .init(.shape, op, msg, fix: fix) }
    public static func io(_ op: String, _ msg: String, fix: String? = nil) -> StrataError { .init(.io, op, msg, fix: fix) }
    public static func format(_ op: String, _ msg: String, fix: String? = nil) -> StrataError { .init(.format, op, msg, fix: fix) }
    public static func config(_ op: String, _ msg: String, fix: String? = nil) -> StrataError { .init(.config, op, msg, fix: fix) }
    public static func data(_ op: String, _ msg: String, fix: String? = nil) -> StrataError { .init(.data, op, msg, fix: fix) }
}

extension StrataError {
    /// A Foundation or POSIX error from reading/writing `path`, in words: a full disk reads
    /// "no space left on the device" (not "NSCocoaErrorDomain Code=640"), with the path and a fix.
    public static func file(_ op: String, path: String, _ error: Error) -> StrataError {
        if let e = error as? StrataError { return e }
        let ns = error as NSError
        let posix = (ns.userInfo[NSUnderlyingErrorKey] as? NSError).flatMap { $0.domain == NSPOSIXErrorDomain ? $0.code : nil }
            ?? (ns.domain == NSPOSIXErrorDomain ? ns.code : nil)
        if posix == Int(ENOSPC) || (ns.domain == NSCocoaErrorDomain && ns.code == NSFileWriteOutOfSpaceError) {
            return .io(op, "no space left on the device while writing \(path)", fix: "free disk space (or write elsewhere) and run again")
        }
        if posix == Int(EACCES) || (ns.domain == NSCocoaErrorDomain && ns.code == NSFileWriteNoPermissionError) {
            return .io(op, "permission denied for \(path)", fix: "check the permissions of \(path) and its directory")
        }
        return .io(op, "\(path): \(ns.localizedDescription)")
    }
}
