import CHDF5
import Foundation

// Writing a small HDF5 file of typed datasets (float32 rows, int64, UTF-8 strings) and string
// attributes, as h5py would read them. Each call is one libhdf5 object created, written and
// closed, in the caller's order (the order decides the file's bytes); a failure drops the
// thread's error records (`hdf5Failure`) and throws `HDF5Error`.

/// A new HDF5 file, truncating any file at `path`. Closed by `close()` or when released.
public final class HDF5Writer {
    public let path: String
    let fileID: hid_t
    private var closed = false

    public init(creating path: String) throws {
        _ = hdf5Setup
        self.path = path
        // No object times (libhdf5 stamps them by default), so the same data makes the same bytes.
        let fcpl = H5Pcreate(chdf5_p_file_create())
        defer { H5Pclose(fcpl) }
        H5Pset_obj_track_times(fcpl, false)
        let id = H5Fcreate(path, chdf5_f_acc_trunc(), fcpl, chdf5_p_default())
        guard id >= 0 else { throw hdf5Failure(.cannotCreate(path: path)) }
        fileID = id
    }

    deinit { close() }

    public func close() {
        guard !closed else { return }
        closed = true
        H5Fclose(fileID)
    }

    /// Dataset creation without object times (see `init`); closed by the caller.
    func untimed() -> hid_t {
        let dcpl = H5Pcreate(chdf5_p_dataset_create())
        H5Pset_obj_track_times(dcpl, false)
        return dcpl
    }

    /// A little-endian float32 dataset of `shape`, written afterwards in blocks along its first
    /// dimension (`HDF5Float32Dataset.write`).
    public func createFloat32(_ name: String, shape: [Int]) throws -> HDF5Float32Dataset {
        var dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(shape.count), &dims, nil)
        let dcpl = untimed()
        defer { H5Pclose(dcpl) }
        let ds = H5Dcreate2(
            fileID, name, chdf5_t_ieee_f32le(), space, chdf5_p_default(), dcpl, chdf5_p_default())
        guard ds >= 0 else {
            H5Sclose(space)
            throw hdf5Failure(.writeFailed(path: path, object: "dataset \(name)"))
        }
        return HDF5Float32Dataset(path: path, name: name, shape: shape, dataset: ds, space: space)
    }

    /// A one-dimensional little-endian int64 dataset.
    public func writeInt64s(_ name: String, _ values: [Int64]) throws {
        var n: [hsize_t] = [hsize_t(values.count)]
        let s = H5Screate_simple(1, &n, nil)
        defer { H5Sclose(s) }
        let dcpl = untimed()
        defer { H5Pclose(dcpl) }
        let d = H5Dcreate2(
            fileID, name, chdf5_t_std_i64le(), s, chdf5_p_default(), dcpl, chdf5_p_default())
        guard d >= 0 else { throw hdf5Failure(.writeFailed(path: path, object: "dataset \(name)")) }
        defer { H5Dclose(d) }
        let rc = values.withUnsafeBufferPointer {
            H5Dwrite(d, chdf5_t_native_int64(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress)
        }
        guard rc >= 0 else { throw hdf5Failure(.writeFailed(path: path, object: "dataset \(name)")) }
    }

    /// A one-dimensional dataset of variable-length UTF-8 strings (h5py reads them as `str`).
    public func writeStrings(_ name: String, _ values: [String]) throws {
        let t = utf8StringType()
        defer { H5Tclose(t) }
        var n: [hsize_t] = [hsize_t(values.count)]
        let s = H5Screate_simple(1, &n, nil)
        defer { H5Sclose(s) }
        let dcpl = untimed()
        defer { H5Pclose(dcpl) }
        let d = H5Dcreate2(fileID, name, t, s, chdf5_p_default(), dcpl, chdf5_p_default())
        guard d >= 0 else { throw hdf5Failure(.writeFailed(path: path, object: "dataset \(name)")) }
        defer { H5Dclose(d) }
        guard !values.isEmpty else { return }
        let cStrings = values.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        let rc = cStrings.withUnsafeBufferPointer {
            H5Dwrite(d, t, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress)
        }
        guard rc >= 0 else { throw hdf5Failure(.writeFailed(path: path, object: "dataset \(name)")) }
    }

    /// A scalar variable-length UTF-8 string attribute on the root group, or on the group `on`.
    public func writeStringAttribute(_ name: String, _ value: String, on object: String = "/") throws {
        try writeStringsAttribute(name, [value], on: object, scalar: true)
    }

    /// A one-dimensional attribute of variable-length UTF-8 strings (h5py reads an object array
    /// of `str`, as Keras writes `layer_names` and `weight_names`) on the group `on`.
    public func writeStringListAttribute(_ name: String, _ values: [String], on object: String) throws {
        try writeStringsAttribute(name, values, on: object, scalar: false)
    }

    private func writeStringsAttribute(_ name: String, _ values: [String], on object: String, scalar: Bool) throws {
        let t = utf8StringType()
        defer { H5Tclose(t) }
        var n: [hsize_t] = [hsize_t(values.count)]
        let s = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nil)
        defer { H5Sclose(s) }
        let a = H5Acreate_by_name(
            fileID, object, name, t, s, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
        guard a >= 0 else { throw hdf5Failure(.writeFailed(path: path, object: "attribute \(name)")) }
        defer { H5Aclose(a) }
        guard !values.isEmpty else { return }
        let cStrings = values.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        let rc = cStrings.withUnsafeBufferPointer { H5Awrite(a, t, $0.baseAddress) }
        guard rc >= 0 else { throw hdf5Failure(.writeFailed(path: path, object: "attribute \(name)")) }
    }

    /// A group at `name` (its parent must exist).
    public func createGroup(_ name: String) throws {
        let g = H5Gcreate2(fileID, name, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
        guard g >= 0 else { throw hdf5Failure(.writeFailed(path: path, object: "group \(name)")) }
        H5Gclose(g)
    }

    /// A whole float32 dataset of `shape` at `name` (in an existing group), written at once.
    public func writeFloat32(_ name: String, shape: [Int], _ values: [Float]) throws {
        precondition(values.count == shape.reduce(1, *), "values fill the shape")
        let dataset = try createFloat32(name, shape: shape)
        defer { dataset.close() }
        guard let first = shape.first, first > 0 else { return }
        try values.withUnsafeBytes { try dataset.write(start: 0, count: first, values: $0) }
    }

    /// Pushes everything to disk; a failure here is the usual sign of a full disk.
    public func flush() throws {
        guard H5Fflush(fileID, H5F_SCOPE_GLOBAL) >= 0 else {
            throw hdf5Failure(.writeFailed(path: path, object: "the file"))
        }
    }

    private func utf8StringType() -> hid_t {
        let t = H5Tcopy(chdf5_t_c_s1())
        H5Tset_size(t, chdf5_variable())
        H5Tset_cset(t, H5T_CSET_UTF8)
        return t
    }
}

/// A float32 dataset being filled block by block along its first dimension.
public final class HDF5Float32Dataset {
    public let path: String
    public let name: String
    public let shape: [Int]
    private let dataset: hid_t
    private let space: hid_t
    private var closed = false

    init(path: String, name: String, shape: [Int], dataset: hid_t, space: hid_t) {
        self.path = path
        self.name = name
        self.shape = shape
        self.dataset = dataset
        self.space = space
    }

    deinit { close() }

    /// Writes `count` slices `start..<start+count` of the first dimension from native floats in
    /// C order: `values` holds count × shape[1...] floats.
    public func write(start: Int, count: Int, values: UnsafeRawBufferPointer) throws {
        var offs: [hsize_t] = [hsize_t(start)] + shape.dropFirst().map { _ in 0 }
        var counts: [hsize_t] = [hsize_t(count)] + shape.dropFirst().map { hsize_t($0) }
        H5Sselect_hyperslab(space, H5S_SELECT_SET, &offs, nil, &counts, nil)
        let mem = H5Screate_simple(Int32(shape.count), &counts, nil)
        let rc = H5Dwrite(dataset, chdf5_t_native_float(), mem, space, chdf5_p_default(), values.baseAddress)
        H5Sclose(mem)
        guard rc >= 0 else { throw hdf5Failure(.writeFailed(path: path, object: "dataset \(name)")) }
    }

    public func close() {
        guard !closed else { return }
        closed = true
        H5Dclose(dataset)
        H5Sclose(space)
    }
}
