import CHDF5
import Foundation

// Reading the non-float datasets a feature file holds: int64 labels and UTF-8 string lists
// (variable-length, as h5py 3 and HDF5Writer write them, or fixed-length NUL-padded bytes).

extension HDF5Dataset {
    /// All values as int64, converted by libhdf5. Throws for strings and floats.
    public func readInt64s() throws -> [Int64] {
        let did = try open()
        defer { H5Dclose(did) }
        let space = H5Dget_space(did)
        defer { H5Sclose(space) }
        let count = Int(max(H5Sget_simple_extent_npoints(space), 0))
        let type = H5Dget_type(did)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_INTEGER else {
            throw HDF5Error.unsupportedDType(
                path: file.path, dataset: path, dtype: Self.dtype(of: type, did: did).rawValue)
        }
        if count == 0 { return [] }
        try checkDeclaredSize(did, count: count, elementSize: H5Tget_size(type))
        var out = [Int64](repeating: 0, count: count)
        let status = out.withUnsafeMutableBytes {
            H5Dread(did, chdf5_t_native_int64(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress)
        }
        guard status >= 0 else {
            throw hdf5Failure(
                .damaged(path: file.path, object: path, detail: "cannot read data (file damaged or truncated)"))
        }
        return out
    }

    /// A one-dimensional string dataset, in the file's own character set.
    public func readStrings() throws -> [String] {
        let did = try open()
        defer { H5Dclose(did) }
        let space = H5Dget_space(did)
        defer { H5Sclose(space) }
        let count = Int(max(H5Sget_simple_extent_npoints(space), 0))
        let type = H5Dget_type(did)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_STRING else {
            throw HDF5Error.unsupportedDType(
                path: file.path, dataset: path, dtype: Self.dtype(of: type, did: did).rawValue)
        }
        let values = hdf5Strings(type: type, space: space, count: count) { memType, buffer in
            H5Dread(did, memType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), buffer)
        }
        guard let values else {
            throw hdf5Failure(.damaged(path: file.path, object: path, detail: "cannot read strings"))
        }
        return values
    }
}

/// The `count` strings of the string type `type` over `space`, read by `read` (H5Aread or
/// H5Dread into the memory type and buffer it is given): variable-length strings in the file's
/// own character set (HDF5 does not convert between character sets), fixed-length ones up to
/// their first NUL. nil when the read fails. Attributes and datasets share this.
func hdf5Strings(
    type: hid_t, space: hid_t, count: Int, read: (_ memType: hid_t, _ buffer: UnsafeMutableRawPointer) -> herr_t
) -> [String]? {
    if count == 0 { return [] }
    if H5Tis_variable_str(type) > 0 {
        let memType = H5Tcopy(chdf5_t_c_s1())
        defer { H5Tclose(memType) }
        H5Tset_size(memType, chdf5_variable())
        H5Tset_cset(memType, H5Tget_cset(type))
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        guard pointers.withUnsafeMutableBytes({ read(memType, $0.baseAddress!) }) >= 0 else { return nil }
        defer { H5Dvlen_reclaim(memType, space, chdf5_p_default(), &pointers) }
        return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }
    let width = H5Tget_size(type)
    guard width > 0 else { return Array(repeating: "", count: count) }
    var bytes = [UInt8](repeating: 0, count: width * count)
    guard bytes.withUnsafeMutableBytes({ read(type, $0.baseAddress!) }) >= 0 else { return nil }
    return (0..<count).map { i in
        let slice = bytes[(i * width)..<((i + 1) * width)]
        let end = slice.firstIndex(of: 0) ?? slice.endIndex
        return String(decoding: slice[slice.startIndex..<end], as: UTF8.self)
    }
}
