namespace MLNetBackprop.Benchmarks.Torch;

using System.Buffers.Binary;
using System.Text;

/// <summary>
/// Marks one symbol-version requirement of an ELF64 shared library as weak (VER_FLG_WEAK), so the dynamic
/// loader treats it as optional. Used on the build-output copy of TorchSharp's native glue, which requires
/// GLIBCXX_3.4.32 only for a marker symbol that is never called.
/// </summary>
internal static class ElfWeakVersion
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <returns>true when the file was changed, false when it already was weak or does not need the version.</returns>
    public static bool MarkWeak(string path, string version)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F' || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException($"{path} is not a little-endian ELF64 file.");
        ulong shoff = U64(elf, 0x28);
        int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (U32(elf, sh + 4) != ShtGnuVerneed) continue;
            int offset = (int)U64(elf, sh + 0x18);
            int link = (int)U32(elf, sh + 0x28);
            int strtab = (int)U64(elf, checked((int)shoff + link * shentsize) + 0x18);
            int need = offset;
            while (true)
            {
                int count = U16(elf, need + 2);
                int aux = need + (int)U32(elf, need + 8);
                for (int k = 0; k < count; k++)
                {
                    string name = CString(elf, strtab + (int)U32(elf, aux + 8));
                    if (name == version)
                    {
                        ushort flags = U16(elf, aux + 4);
                        if ((flags & VerFlgWeak) != 0) return false;
                        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(aux + 4), (ushort)(flags | VerFlgWeak));
                        string tmp = path + ".tmp";
                        File.WriteAllBytes(tmp, elf);
                        File.Move(tmp, path, overwrite: true);
                        return true;
                    }
                    aux += (int)U32(elf, aux + 12);
                }
                uint next = U32(elf, need + 12);
                if (next == 0) break;
                need += (int)next;
            }
        }
        return false;
    }

    private static ushort U16(byte[] b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(o));
    private static uint U32(byte[] b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(o));
    private static ulong U64(byte[] b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(o));
    private static string CString(byte[] b, int o) { int e = Array.IndexOf(b, (byte)0, o); return Encoding.ASCII.GetString(b, o, e - o); }
}
