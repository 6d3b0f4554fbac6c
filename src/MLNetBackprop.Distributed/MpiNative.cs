using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace MLNetBackprop.Distributed;

/// <summary>
/// The few MPI calls the ring allreduce needs, bound directly to MPICH's C ABI. The handles in that ABI are plain ints
/// (MPI_Comm, MPI_Datatype, MPI_Request, MPI_Errhandler are all <c>typedef int</c>), which is what makes a thin binding
/// possible without a compiled shim; Open MPI's handles are pointers, so its library is refused rather than misread.
/// </summary>
/// <remarks>
/// Every constant and layout below was read from MPICH 4.0.2's /usr/include/x86_64-linux-gnu/mpich/mpi.h and
/// mpi_proto.h (Debian package libmpich-dev, needed only to read them; the runtime needs only the mpich package). The
/// values are part of MPICH's ABI, which MPICH keeps stable across its releases with the libmpi.so.12 soname.
/// </remarks>
internal static unsafe partial class MpiNative
{
    /// <summary>The logical name the imports use; the resolver maps it to the library actually found.</summary>
    private const string Library = "mpich";

    // mpi.h: #define MPI_SUCCESS 0
    public const int MPI_SUCCESS = 0;

    // mpi.h: typedef int MPI_Comm; #define MPI_COMM_WORLD ((MPI_Comm)0x44000000)
    public const int MPI_COMM_WORLD = 0x44000000;

    // mpi.h: typedef int MPI_Datatype; #define MPI_BYTE ((MPI_Datatype)0x4c00010d)
    public const int MPI_BYTE = 0x4c00010d;

    // mpi.h: typedef int MPI_Errhandler; #define MPI_ERRORS_RETURN ((MPI_Errhandler)0x54000001)
    public const int MPI_ERRORS_RETURN = 0x54000001;

    // mpi.h: typedef int MPI_Request; #define MPI_REQUEST_NULL ((MPI_Request)0x2c000000)
    public const int MPI_REQUEST_NULL = 0x2c000000;

    // mpi.h: #define MPI_THREAD_SERIALIZED 2 (SINGLE 0, FUNNELED 1, MULTIPLE 3)
    public const int MPI_THREAD_SERIALIZED = 2;

    // mpi.h: #define MPI_MAX_ERROR_STRING 512; #define MPI_MAX_LIBRARY_VERSION_STRING 8192
    public const int MPI_MAX_ERROR_STRING = 512;
    public const int MPI_MAX_LIBRARY_VERSION_STRING = 8192;

    // mpi.h: #define MPI_STATUS_IGNORE (MPI_Status *)1
    public static MpiStatus* StatusIgnore => (MpiStatus*)1;

    /// <summary>mpi.h: typedef struct MPI_Status { int count_lo; int count_hi_and_cancelled; int MPI_SOURCE; int MPI_TAG; int MPI_ERROR; }.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MpiStatus
    {
        public int CountLo;
        public int CountHiAndCancelled;
        public int Source;
        public int Tag;
        public int Error;
    }

    // The signatures are mpi_proto.h's, with MPI_Comm, MPI_Datatype, MPI_Request and MPI_Errhandler as int.

    [LibraryImport(Library)]
    public static partial int MPI_Init_thread(int* argc, byte*** argv, int required, int* provided);

    [LibraryImport(Library)]
    public static partial int MPI_Initialized(int* flag);

    [LibraryImport(Library)]
    public static partial int MPI_Finalized(int* flag);

    [LibraryImport(Library)]
    public static partial int MPI_Finalize();

    [LibraryImport(Library)]
    public static partial int MPI_Comm_rank(int comm, int* rank);

    [LibraryImport(Library)]
    public static partial int MPI_Comm_size(int comm, int* size);

    [LibraryImport(Library)]
    public static partial int MPI_Comm_set_errhandler(int comm, int errhandler);

    [LibraryImport(Library)]
    public static partial int MPI_Isend(void* buf, int count, int datatype, int dest, int tag, int comm, int* request);

    [LibraryImport(Library)]
    public static partial int MPI_Irecv(void* buf, int count, int datatype, int source, int tag, int comm, int* request);

    [LibraryImport(Library)]
    public static partial int MPI_Test(int* request, int* flag, MpiStatus* status);

    [LibraryImport(Library)]
    public static partial int MPI_Get_count(MpiStatus* status, int datatype, int* count);

    [LibraryImport(Library)]
    public static partial int MPI_Cancel(int* request);

    [LibraryImport(Library)]
    public static partial int MPI_Request_free(int* request);

    [LibraryImport(Library)]
    public static partial int MPI_Error_string(int errorcode, byte* text, int* resultlen);

    [LibraryImport(Library)]
    public static partial int MPI_Abort(int comm, int errorcode);

    /// <summary>The text of an MPI error code, or the bare code when even that fails.</summary>
    public static string ErrorString(int code)
    {
        byte* text = stackalloc byte[MPI_MAX_ERROR_STRING];
        int length = 0;
        if (MPI_Error_string(code, text, &length) != MPI_SUCCESS || length <= 0)
            return $"MPI error code {code}";
        return Encoding.UTF8.GetString(text, Math.Min(length, MPI_MAX_ERROR_STRING)).TrimEnd('\0', ' ', '\n');
    }

    // Loading.

    public const string LibraryVariable = "MLNETBACKPROP_MPI_LIBRARY";

    private static readonly Lock LoadLock = new();
    private static nint _handle;

    static MpiNative()
    {
        // Without this the runtime would look for "mpich" under its own spellings (libmpich.so, not the .so.12 that
        // the runtime package installs) and could load an MPI that is not MPICH.
        NativeLibrary.SetDllImportResolver(typeof(MpiNative).Assembly, Resolve);
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Library ? Load() : 0;

    /// <summary>
    /// Loads MPICH once: the file MLNETBACKPROP_MPI_LIBRARY names, else libmpich.so.12, else libmpi.so.12 (MPICH's
    /// name for it on some distributions). Called first by <see cref="MpiAllreduce.Initialize"/> so that its clear
    /// message, not the runtime's generic one, is what a user without MPI sees.
    /// </summary>
    public static nint Load()
    {
        lock (LoadLock)
        {
            if (_handle != 0) return _handle;
            string? explicitPath = Environment.GetEnvironmentVariable(LibraryVariable);
            if (!string.IsNullOrWhiteSpace(explicitPath))
            {
                // A library the user named explicitly is used or refused, never silently replaced by another.
                if (!NativeLibrary.TryLoad(explicitPath, out nint handle))
                    throw new DllNotFoundException($"{LibraryVariable} names '{explicitPath}', which could not be loaded as a native library.");
                string? refusal = RefusalOf(handle, explicitPath);
                if (refusal is not null) { NativeLibrary.Free(handle); throw new DllNotFoundException(refusal); }
                return _handle = handle;
            }
            var refusals = new List<string>();
            foreach (string candidate in (string[])["libmpich.so.12", "libmpi.so.12"])
            {
                if (!NativeLibrary.TryLoad(candidate, out nint handle)) continue;
                string? refusal = RefusalOf(handle, candidate);
                if (refusal is null) return _handle = handle;
                NativeLibrary.Free(handle);
                refusals.Add(refusal);
            }
            throw new DllNotFoundException(
                "MPI was not found: install MPICH (Debian: apt-get install mpich) or set " + LibraryVariable + "."
                + (refusals.Count > 0 ? " " + string.Join(" ", refusals) : ""));
        }
    }

    /// <summary>Why a loaded library cannot be used, or null when it is MPICH.</summary>
    private static string? RefusalOf(nint handle, string path)
    {
        // MPI_Get_library_version is one of the few calls MPI allows before MPI_Init, so it can vet the library
        // before anything depends on its ABI.
        if (!NativeLibrary.TryGetExport(handle, "MPI_Get_library_version", out nint export))
            return $"'{path}' is not an MPI library (it has no MPI_Get_library_version).";
        var getVersion = (delegate* unmanaged<byte*, int*, int>)export;
        byte[] text = new byte[MPI_MAX_LIBRARY_VERSION_STRING];
        int length = 0;
        int code;
        fixed (byte* p = text) code = getVersion(p, &length);
        string version = code == MPI_SUCCESS ? Encoding.UTF8.GetString(text, 0, Math.Clamp(length, 0, text.Length)).TrimEnd('\0') : "";
        if (!version.Contains("MPICH", StringComparison.Ordinal))
        {
            string firstLine = version.Split('\n', 2)[0].Trim();
            return $"'{path}' is not MPICH ({(firstLine.Length > 0 ? firstLine : "no version string")}); MLNetBackprop.Distributed binds MPICH's ABI only.";
        }
        return null;
    }
}
