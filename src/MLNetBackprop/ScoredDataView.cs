using Microsoft.ML;

namespace MLNetBackprop;

/// <summary>The lazily scored output of <see cref="BackpropTransformer.Transform(IDataView)"/>.</summary>
internal sealed class ScoredDataView : IDataView
{
    private readonly ScoringSchema _binding;
    private readonly IDataView _input;

    public ScoredDataView(ScoringSchema binding, IDataView input)
    {
        _binding = binding;
        _input = input;
    }

    public bool CanShuffle => _input.CanShuffle;

    public DataViewSchema Schema => _binding.Output;

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var (active, inputs) = _binding.Split(columnsNeeded);
        return new ScoredCursor(_binding, _input.GetRowCursor(inputs, rand), active);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        var (active, inputs) = _binding.Split(columnsNeeded);
        return _input.GetRowCursorSet(inputs, n, rand)
            .Select(c => (DataViewRowCursor)new ScoredCursor(_binding, c, active))
            .ToArray();
    }
}
