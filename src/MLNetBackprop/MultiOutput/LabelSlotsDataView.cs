using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>
/// A view of <c>input</c> with K Single columns appended, column j holding slot j of the vector label (a scalar label is
/// its own slot 0), so that one-output trainers can fit each output. Rows, order, shuffling and ids are the input's.
/// </summary>
internal sealed class LabelSlotsDataView : IDataView
{
    private readonly IDataView _input;
    private readonly DataViewSchema.Column _label;
    private readonly int _inputCount;

    public LabelSlotsDataView(IDataView input, DataViewSchema.Column label, string[] slotColumnNames)
    {
        _input = input;
        _label = label;
        _inputCount = input.Schema.Count;
        var builder = new DataViewSchema.Builder();
        foreach (var column in input.Schema) builder.AddColumn(column.Name, column.Type, column.Annotations);
        foreach (var name in slotColumnNames) builder.AddColumn(name, NumberDataViewType.Single);
        Schema = builder.ToSchema();
    }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => _input.CanShuffle;

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToArray();
        var slots = needed.Where(c => c.Index >= _inputCount).Select(c => c.Index - _inputCount).ToHashSet();
        var inner = needed.Where(c => c.Index < _inputCount).Select(c => _input.Schema[c.Index]).ToList();
        if (slots.Count > 0 && !inner.Any(c => c.Index == _label.Index)) inner.Add(_label);
        return new Cursor(this, _input.GetRowCursor(inner, rand), slots);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly LabelSlotsDataView _parent;
        private readonly DataViewRowCursor _inner;
        private readonly HashSet<int> _slots;
        private readonly Action? _readLabel;
        private readonly float[] _values;
        private long _readAt = -1;

        public Cursor(LabelSlotsDataView parent, DataViewRowCursor inner, HashSet<int> slots)
        {
            _parent = parent;
            _inner = inner;
            _slots = slots;
            int k = parent.Schema.Count - parent._inputCount;
            _values = new float[k];
            if (slots.Count == 0) return;
            if (parent._label.Type is VectorDataViewType)
            {
                var getter = inner.GetGetter<VBuffer<float>>(parent._label);
                VBuffer<float> buffer = default;
                _readLabel = () =>
                {
                    getter(ref buffer);
                    buffer.CopyTo(_values);
                };
            }
            else
            {
                var getter = inner.GetGetter<float>(parent._label);
                _readLabel = () => getter(ref _values[0]);
            }
        }

        public override DataViewSchema Schema => _parent.Schema;

        public override long Position => _inner.Position;

        public override long Batch => _inner.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _inner.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => column.Index < _parent._inputCount
            ? _inner.IsColumnActive(_inner.Schema[column.Index])
            : _slots.Contains(column.Index - _parent._inputCount);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _parent._inputCount) return _inner.GetGetter<TValue>(_inner.Schema[column.Index]);
            int slot = column.Index - _parent._inputCount;
            if (!_slots.Contains(slot))
                throw new InvalidOperationException($"Column '{column.Name}' was not requested from this cursor.");
            if (typeof(TValue) != typeof(float))
                throw new InvalidOperationException($"Column '{column.Name}' is Single; requested {typeof(TValue)}.");
            ValueGetter<float> getter = (ref float value) =>
            {
                if (_readAt != _inner.Position)
                {
                    _readLabel!();
                    _readAt = _inner.Position;
                }
                value = _values[slot];
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        public override bool MoveNext() => _inner.MoveNext();

        protected override void Dispose(bool disposing)
        {
            if (disposing) _inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
