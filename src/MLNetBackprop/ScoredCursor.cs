using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>A cursor over the input with the model's output columns appended; each cursor scores with its own workspace.</summary>
internal sealed class ScoredCursor(ScoringSchema binding, DataViewRowCursor input, bool[] active) : DataViewRowCursor
{
    private readonly AppendedColumns _columns = new(binding, input, active);

    public override DataViewSchema Schema => binding.Output;

    public override long Position => input.Position;

    public override long Batch => input.Batch;

    public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

    public override bool MoveNext() => input.MoveNext();

    public override bool IsColumnActive(DataViewSchema.Column column) => _columns.IsColumnActive(column);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _columns.GetGetter<TValue>(column);

    protected override void Dispose(bool disposing)
    {
        if (disposing) input.Dispose();
        base.Dispose(disposing);
    }
}
