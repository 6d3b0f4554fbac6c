using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>An input row with the model's output columns appended (the prediction-engine path).</summary>
internal sealed class ScoredRow(ScoringSchema binding, DataViewRow input, bool[] active) : DataViewRow
{
    private readonly AppendedColumns _columns = new(binding, input, active);

    public override DataViewSchema Schema => binding.Output;

    public override long Position => input.Position;

    public override long Batch => input.Batch;

    public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) => _columns.IsColumnActive(column);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _columns.GetGetter<TValue>(column);
}
