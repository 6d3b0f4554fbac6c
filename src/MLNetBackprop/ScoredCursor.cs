using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>A cursor over the input with the model's output columns appended; each cursor scores with its own workspace.</summary>
internal sealed class ScoredCursor : DataViewRowCursor
{
    private readonly ScoringSchema _binding;
    private readonly DataViewRowCursor _input;
    private readonly bool[] _active;
    private readonly Delegate?[] _getters;

    public ScoredCursor(ScoringSchema binding, DataViewRowCursor input, bool[] active)
    {
        _binding = binding;
        _input = input;
        _active = active;
        _getters = new Delegate?[active.Length];
        if (active.Any(a => a))
        {
            var scorer = new RowScorer(binding.Model, input, input.Schema[binding.Features.Index]);
            for (int i = 0; i < active.Length; i++)
                if (active[i]) _getters[i] = scorer.MakeGetter(binding.Names[i]);
        }
    }

    public override DataViewSchema Schema => _binding.Output;

    public override long Position => _input.Position;

    public override long Batch => _input.Batch;

    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

    public override bool MoveNext() => _input.MoveNext();

    public override bool IsColumnActive(DataViewSchema.Column column) =>
        column.Index < _binding.InputCount ? _input.IsColumnActive(_input.Schema[column.Index]) : _active[column.Index - _binding.InputCount];

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
        ScoredRow.Getter<TValue>(_binding, _input, _getters, column);

    protected override void Dispose(bool disposing)
    {
        if (disposing) _input.Dispose();
        base.Dispose(disposing);
    }
}
