import CHDF5
import Foundation

// A thin Swift face on libhdf5, reading (here) and writing (HDF5Writer.swift). Every call that
// can fail on user data throws `HDF5Error` naming the file and the object; libhdf5's own stderr
// dump is silenced.

/// Element types the loader understands; anything else is reported, never guessed.
public enum ArrayDType: String, Sendable, Codable, CustomStringConvertible {
    case float16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64
    case bfloat16
    case string
    case other

    public var description: String { rawValue }
    /// Element types the loader converts to float32 without loss of meaning.
    public var isNumeric: Bool { self != .string && self != .other }
}

/// A libhdf5 failure we report ourselves: the thread's error records are dropped first (see
/// `chdf5_clear_errors`).
func hdf5Failure(_ error: HDF5Error) -> HDF5Error {
    chdf5_clear_errors()
    return error
}

let hdf5Setup: Void = {
    _ = H5open()
    chdf5_silence_errors()
}()

/// An open HDF5 file. Owns the file id; objects opened from it are closed as they go out of use.
public final class HDF5File: @unchecked Sendable {
    public let path: String
    let fileID: hid_t
    /// Keeps an in-memory file image alive for files opened from bytes (a `.keras` archive).
    private let image: UnsafeMutableRawBufferPointer?

    /// Opens `path` read-only, classifying the failure the way a user needs it.
    public init(path: String) throws {
        _ = hdf5Setup
        self.path = path
        self.image = nil
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue
        else { throw HDF5Error.fileNotFound(path: path) }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw HDF5Error.unreadable(path: path)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if size == 0 { throw HDF5Error.emptyFile(path: path) }
        if H5Fis_hdf5(path) <= 0 { throw HDF5Error.notHDF5(path: path) }
        let id = H5Fopen(path, chdf5_f_acc_rdonly(), chdf5_p_default())
        // The signature is present (H5Fis_hdf5 said so), so a failed open means a damaged file;
        // a file cut short is by far the commonest cause (an interrupted download or copy).
        guard id >= 0 else { throw hdf5Failure(.truncated(path: path, detail: "HDF5 cannot open it")) }
        self.fileID = id
    }

    /// Opens an HDF5 file image held in memory (the `model.weights.h5` member of a `.keras` zip).
    public init(bytes: Data, displayPath: String) throws {
        _ = hdf5Setup
        self.path = displayPath
        guard !bytes.isEmpty else { throw HDF5Error.emptyFile(path: displayPath) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        bytes.copyBytes(to: buffer)
        let fapl = H5Pcreate(chdf5_p_file_access())
        defer { H5Pclose(fapl) }
        // Core driver over a caller-owned image: no temporary file, no copy inside HDF5.
        H5Pset_fapl_core(fapl, 1 << 20, false)
        H5Pset_file_image(fapl, buffer.baseAddress, bytes.count)
        // The name only labels the image; the core driver never touches the disk here.
        let id = H5Fopen("keras-archive-member.weights.h5", chdf5_f_acc_rdonly(), fapl)
        guard id >= 0 else {
            buffer.deallocate()
            throw hdf5Failure(HDF5Error.notHDF5(path: displayPath))
        }
        self.fileID = id
        self.image = buffer
    }

    deinit {
        H5Fclose(fileID)
        image?.deallocate()
    }

    public var root: HDF5Group { HDF5Group(file: self, path: "/") }
}

/// A group addressed by its absolute path; opened on demand so no handle outlives a call.
public struct HDF5Group: Sendable {
    public let file: HDF5File
    public let path: String

    public func child(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    /// True when every component of the relative `name` exists (H5Lexists checks one level
    /// only). An external link is never followed: Keras writes none, and one would make the
    /// file open any path on this machine (a FIFO, a device, another user's file).
    public func contains(_ name: String) -> Bool {
        steps(name).allSatisfy { next in
            H5Lexists(file.fileID, next, chdf5_p_default()) > 0 && Self.link(file, next).kind != 2
                && H5Oexists_by_name(file.fileID, next, chdf5_p_default()) > 0
        }
    }

    /// The absolute path of each component of the relative `name`, outermost first.
    func steps(_ name: String) -> [String] {
        var current = path
        return name.split(separator: "/", omittingEmptySubsequences: true).map { part in
            current = current == "/" ? "/" + part : current + "/" + part
            return current
        }
    }

    /// Why `name` is not there although its link is: "an external link to other.h5:/x (not
    /// followed)" or "a soft link to /x, which leads nowhere (a broken or circular link)"; nil
    /// when no link of the path is of those kinds.
    public func unusableLink(_ name: String) -> String? {
        for next in steps(name) {
            guard H5Lexists(file.fileID, next, chdf5_p_default()) > 0 else { return nil }
            let (kind, target) = Self.link(file, next)
            if kind == 2 { return "an external link to \(target), which is not followed (Keras writes none)" }
            if H5Oexists_by_name(file.fileID, next, chdf5_p_default()) <= 0 {
                chdf5_clear_errors()
                return kind == 1
                    ? "a soft link to \(target), which leads nowhere (a broken or circular link)" : nil
            }
        }
        return nil
    }

    static func link(_ file: HDF5File, _ path: String) -> (kind: Int32, target: String) {
        var buffer = [CChar](repeating: 0, count: 1100)
        let kind = chdf5_link_target(file.fileID, path, &buffer, buffer.count)
        return (kind, String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    public func isGroup(_ name: String) -> Bool {
        guard contains(name) else { return false }
        return chdf5_is_group(file.fileID, child(name)) == 1
    }

    public func group(_ name: String) -> HDF5Group { HDF5Group(file: file, path: child(name)) }

    public func dataset(_ name: String) -> HDF5Dataset { HDF5Dataset(file: file, path: child(name)) }

    /// Names of the direct children, in HDF5's name order (only used where the tree is the
    /// format, as in `.weights.h5`; legacy files are read through `layer_names` instead).
    public func childNames() throws -> [String] {
        let gid = try open()
        defer { H5Gclose(gid) }
        var info = H5G_info_t()
        guard H5Gget_info(gid, &info) >= 0 else { throw damaged("cannot list group") }
        var names: [String] = []
        for i in 0..<info.nlinks {
            let len = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, chdf5_p_default())
            guard len >= 0 else { throw damaged("cannot read a link name") }
            var buf = [CChar](repeating: 0, count: Int(len) + 1)
            H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, Int(len) + 1, chdf5_p_default())
            names.append(String(decoding: buf.prefix(Int(len)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    func open() throws -> hid_t {
        let gid = H5Gopen2(file.fileID, path, chdf5_p_default())
        guard gid >= 0 else { throw damaged("cannot open group") }
        return gid
    }

    func damaged(_ what: String) -> HDF5Error {
        hdf5Failure(.damaged(path: file.path, object: path, detail: what))
    }

    // MARK: attributes

    public func hasAttribute(_ name: String) -> Bool {
        H5Aexists_by_name(file.fileID, path, name, chdf5_p_default()) > 0
    }

    /// A string-list attribute as Keras writes it: fixed-length NUL-padded bytes (h5py 2 era) or
    /// variable-length strings (h5py 3), an empty float64 array for an empty list, and lists too
    /// large for an object header split into `name0`, `name1`, ... Returns nil when absent.
    public func stringListAttribute(_ name: String) throws -> [String]? {
        if hasAttribute(name) { return try readStrings(name) }
        guard hasAttribute(name + "0") else { return nil }
        var all: [String] = []
        var chunk = 0
        while hasAttribute("\(name)\(chunk)") {
            all += try readStrings("\(name)\(chunk)")
            chunk += 1
        }
        return all
    }

    /// A scalar string attribute (`keras_version`, `backend`, `model_config`); nil when absent.
    public func stringAttribute(_ name: String) throws -> String? {
        guard hasAttribute(name) else { return nil }
        return try readStrings(name).first
    }

    private func readStrings(_ name: String) throws -> [String] {
        let aid = H5Aopen_by_name(file.fileID, path, name, chdf5_p_default(), chdf5_p_default())
        guard aid >= 0 else { throw damaged("cannot open attribute \(name)") }
        defer { H5Aclose(aid) }
        let space = H5Aget_space(aid)
        defer { H5Sclose(space) }
        let count = Int(max(H5Sget_simple_extent_npoints(space), 0))
        let type = H5Aget_type(aid)
        defer { H5Tclose(type) }
        let cls = H5Tget_class(type)
        if cls != H5T_STRING {
            // Keras writes an empty list as np.asarray([]), a float64 array of length 0.
            if count == 0 { return [] }
            throw damaged("attribute \(name) is not a list of strings")
        }
        let values = hdf5Strings(type: type, space: space, count: count) { memType, buffer in
            H5Aread(aid, memType, buffer)
        }
        guard let values else { throw damaged("cannot read attribute \(name)") }
        return values
    }
}

/// A dataset addressed by absolute path: shape and dtype are cheap, values are read on demand.
public struct HDF5Dataset: Sendable {
    public let file: HDF5File
    public let path: String

    func open() throws -> hid_t {
        let did = H5Dopen2(file.fileID, path, chdf5_p_default())
        guard did >= 0 else {
            throw hdf5Failure(HDF5Error.damaged(path: file.path, object: path, detail: "cannot open dataset"))
        }
        return did
    }

    /// Shape and element type, read from the dataset header without touching the data.
    public func info() throws -> (shape: [Int], dtype: ArrayDType) {
        let did = try open()
        defer { H5Dclose(did) }
        let space = H5Dget_space(did)
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else {
            throw hdf5Failure(HDF5Error.damaged(path: file.path, object: path, detail: "cannot read shape"))
        }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
        let type = H5Dget_type(did)
        defer { H5Tclose(type) }
        return (dims.map { Int($0) }, Self.dtype(of: type, did: did))
    }

    static func dtype(of type: hid_t, did: hid_t) -> ArrayDType {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            switch size {
            case 2: return .float16
            case 4: return .float32
            case 8: return .float64
            default: return .other
            }
        case H5T_INTEGER:
            // Keras 3 stores bfloat16 as uint16 with a dtype attribute.
            if size == 2, H5Aexists(did, "dtype") > 0 { return .bfloat16 }
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch (size, signed) {
            case (1, true): return .int8
            case (1, false): return .uint8
            case (2, true): return .int16
            case (2, false): return .uint16
            case (4, true): return .int32
            case (4, false): return .uint32
            case (8, true): return .int64
            case (8, false): return .uint64
            default: return .other
            }
        case H5T_STRING: return .string
        default: return .other
        }
    }

    /// All values converted to float32 by libhdf5 (float16/float64/integers convert exactly as
    /// numpy's astype would). Throws for strings and other non-numeric types.
    public func readFloats() throws -> [Float] {
        let did = try open()
        defer { H5Dclose(did) }
        let space = H5Dget_space(did)
        defer { H5Sclose(space) }
        let count = Int(max(H5Sget_simple_extent_npoints(space), 0))
        let type = H5Dget_type(did)
        defer { H5Tclose(type) }
        let dtype = Self.dtype(of: type, did: did)
        if count == 0 { return [] }
        try checkDeclaredSize(did, count: count, elementSize: H5Tget_size(type))
        var out = [Float](repeating: 0, count: count)
        if dtype == .bfloat16 {
            var raw = [UInt16](repeating: 0, count: count)
            guard H5Dread(did, chdf5_t_native_uint16(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), &raw) >= 0
            else {
                throw hdf5Failure(HDF5Error.damaged(path: file.path, object: path, detail: "cannot read data"))
            }
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(raw[i]) << 16) }
            return out
        }
        guard dtype.isNumeric else {
            throw HDF5Error.unsupportedDType(path: file.path, dataset: path, dtype: dtype.rawValue)
        }
        let status = out.withUnsafeMutableBytes {
            H5Dread(did, chdf5_t_native_float(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress)
        }
        guard status >= 0 else {
            if let filter = Self.unavailableFilter(did) {
                throw hdf5Failure(HDF5Error.unavailableFilter(path: file.path, dataset: path, filter: filter))
            }
            throw hdf5Failure(
                HDF5Error.damaged(path: file.path, object: path, detail: "cannot read data (file damaged or truncated)")
            )
        }
        return out
    }

    /// The most one array may declare: 4 GiB, a billion float32 values, beyond any Keras layer.
    public static let maxDeclaredBytes = 4 << 30

    /// Refuses, before any buffer is allocated, a dataset whose declared size cannot be real:
    /// over `maxDeclaredBytes` (a few header bytes can declare terabytes), or partly stored
    /// (chunks missing from unfiltered data; compressed data is allowed gzip's best ratio,
    /// about 1000:1). A dataset never written at all reads as its fill value, as h5py reads it
    /// (structure-only files such as the test skeletons), within the same size cap.
    func checkDeclaredSize(_ did: hid_t, count: Int, elementSize: Int) throws {
        let (declared, overflow) = count.multipliedReportingOverflow(by: max(elementSize, 1))
        let stored = Int(clamping: H5Dget_storage_size(did))
        let plist = H5Dget_create_plist(did)
        let filters = plist >= 0 ? Int(max(H5Pget_nfilters(plist), 0)) : 0
        if plist >= 0 { H5Pclose(plist) }
        let bound = filters == 0 ? stored : stored.multipliedReportingOverflow(by: 1032).partialValue
        let neverWritten = stored == 0
        guard overflow || declared > Self.maxDeclaredBytes || (!neverWritten && declared > bound) else { return }
        throw hdf5Failure(
            HDF5Error.damaged(
                path: file.path, object: path,
                detail:
                    "declares \(count) values (\(overflow ? "more than Int.max" : "\(declared)") bytes) where the file stores \(stored) bytes for it; not read (a truncated or crafted file)"
            ))
    }

    /// The name of a filter in the dataset's pipeline that this libhdf5 cannot apply (h5py's
    /// lzf is id 32000, registered only inside h5py), or nil: a failed read is then damage.
    static func unavailableFilter(_ did: hid_t) -> String? {
        let plist = H5Dget_create_plist(did)
        guard plist >= 0 else { return nil }
        defer { H5Pclose(plist) }
        for i in 0..<max(H5Pget_nfilters(plist), 0) {
            var flags: UInt32 = 0
            var count = 0
            var config: UInt32 = 0
            var name = [CChar](repeating: 0, count: 64)
            let id = H5Pget_filter2(plist, UInt32(i), &flags, &count, nil, name.count, &name, &config)
            if id >= 0, H5Zfilter_avail(id) <= 0 {
                let text = String(cString: name)
                return id == 32000 ? "lzf" : text.isEmpty ? "id \(id)" : "\(text) (id \(id))"
            }
        }
        return nil
    }
}
