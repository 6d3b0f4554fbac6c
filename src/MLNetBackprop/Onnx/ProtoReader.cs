using System.Buffers.Binary;
using System.Text;

namespace MLNetBackprop.Onnx;

/// <summary>
/// A minimal protocol-buffers wire-format reader over a byte array: walks the fields of one message, bounds-checked,
/// throwing <see cref="InvalidDataException"/> on anything malformed (never reading past the end, never looping forever).
/// </summary>
internal ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _pos;

    public ProtoReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _pos = 0;
    }

    public int Field { get; private set; }

    public int WireType { get; private set; }

    /// <summary>Moves to the next field; false at the end of the message.</summary>
    public bool Next()
    {
        if (_pos >= _data.Length) return false;
        ulong key = Varint();
        Field = (int)(key >> 3);
        WireType = (int)(key & 7);
        if (Field <= 0) throw new InvalidDataException("A protobuf field number is zero.");
        return true;
    }

    public ulong Varint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length) throw new InvalidDataException("A protobuf varint runs past the end of the data.");
            byte b = _data[_pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
        throw new InvalidDataException("A protobuf varint is longer than ten bytes.");
    }

    public long Int64() => unchecked((long)Varint());

    public ReadOnlySpan<byte> Bytes()
    {
        ulong length = Varint();
        if (length > (ulong)(_data.Length - _pos)) throw new InvalidDataException("A protobuf length-delimited field runs past the end of the data.");
        var span = _data.Slice(_pos, (int)length);
        _pos += (int)length;
        return span;
    }

    public string String() => Encoding.UTF8.GetString(Bytes());

    /// <summary>A fixed32 value (wire type 5) as its raw little-endian bits.</summary>
    public uint Fixed32()
    {
        Advance(4);
        return BinaryPrimitives.ReadUInt32LittleEndian(_data.Slice(_pos - 4));
    }

    /// <summary>A fixed64 value (wire type 1) as its raw little-endian bits.</summary>
    public ulong Fixed64()
    {
        Advance(8);
        return BinaryPrimitives.ReadUInt64LittleEndian(_data.Slice(_pos - 8));
    }

    /// <summary>Writes the current field, unchanged, to <paramref name="writer"/> (consuming its value).</summary>
    public void CopyTo(ProtoWriter writer)
    {
        switch (WireType)
        {
            case 0: writer.Int(Field, Int64()); break;
            case 1: writer.Fixed64(Field, Fixed64()); break;
            case 2: writer.Bytes(Field, Bytes()); break;
            case 5: writer.Fixed32(Field, Fixed32()); break;
            default: throw new InvalidDataException($"Unsupported protobuf wire type {WireType} (field {Field}).");
        }
    }

    /// <summary>Skips the current field's value.</summary>
    public void Skip()
    {
        switch (WireType)
        {
            case 0: Varint(); break;
            case 1: Advance(8); break;
            case 2: Bytes(); break;
            case 5: Advance(4); break;
            default: throw new InvalidDataException($"Unsupported protobuf wire type {WireType} (field {Field}).");
        }
    }

    private void Advance(int n)
    {
        if (n > _data.Length - _pos) throw new InvalidDataException("A protobuf fixed-size field runs past the end of the data.");
        _pos += n;
    }
}
