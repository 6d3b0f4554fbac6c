using System.Text.Json;

namespace WebApi;

/// <summary>
/// Reads the body of <c>POST /predict</c>: a JSON array of houses, each an object with all 13 fields of
/// <see cref="House"/> as numbers (names matched without regard to case). Anything else is refused with a message that
/// names the row and the field, which the endpoint returns as a 400 problem.
/// </summary>
public static class HouseJson
{
    /// <summary>The most rows one request may carry.</summary>
    public const int MaxRows = 1000;

    private static readonly Dictionary<string, int> FieldIndex =
        House.Fields.Select((f, i) => (f.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.OrdinalIgnoreCase);

    private static readonly string FieldList = string.Join(", ", House.Fields.Select(f => f.Name));

    /// <summary>Reads the houses in <paramref name="root"/>, or says what is wrong with it.</summary>
    /// <returns>True with the rows; false with <paramref name="error"/> naming the row and field at fault.</returns>
    public static bool TryRead(JsonElement root, out House[] rows, out string error)
    {
        rows = [];
        if (root.ValueKind != JsonValueKind.Array)
        {
            error = $"The body must be a JSON array of houses, e.g. [{{\"{House.Fields[0].Name}\": 0.00632, ...}}]; got a JSON {Kind(root)}.";
            return false;
        }
        int count = root.GetArrayLength();
        if (count == 0)
        {
            error = "The body is an empty array; send at least one house.";
            return false;
        }
        if (count > MaxRows)
        {
            error = $"The body holds {count:N0} houses; at most {MaxRows:N0} are accepted per request.";
            return false;
        }
        var result = new House[count];
        var seen = new bool[House.Fields.Count];
        int row = 0;
        foreach (var element in root.EnumerateArray())
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                error = $"Row {row}: expected a JSON object with the fields {FieldList}; got a JSON {Kind(element)}.";
                return false;
            }
            Array.Clear(seen);
            var house = new House();
            foreach (var property in element.EnumerateObject())
            {
                if (!FieldIndex.TryGetValue(property.Name, out int index))
                {
                    error = $"Row {row}: unknown field '{property.Name}'; the fields are {FieldList}.";
                    return false;
                }
                var field = House.Fields[index];
                if (seen[index])
                {
                    error = $"Row {row}: the field '{field.Name}' is given twice.";
                    return false;
                }
                seen[index] = true;
                if (property.Value.ValueKind != JsonValueKind.Number)
                {
                    error = $"Row {row}: the field '{field.Name}' must be a number; got a JSON {Kind(property.Value)}.";
                    return false;
                }
                if (!property.Value.TryGetDouble(out double value) || !float.IsFinite((float)value))
                {
                    error = $"Row {row}: the field '{field.Name}' = {property.Value.GetRawText()} is outside the range of a 32-bit float.";
                    return false;
                }
                field.Set(house, (float)value);
            }
            int missing = Array.IndexOf(seen, false);
            if (missing >= 0)
            {
                var names = House.Fields.Where((_, i) => !seen[i]).Select(f => $"'{f.Name}'");
                error = $"Row {row}: missing field{(seen.Count(s => !s) > 1 ? "s" : "")} {string.Join(", ", names)}; all {House.Fields.Count} fields are required.";
                return false;
            }
            result[row++] = house;
        }
        rows = result;
        error = "";
        return true;
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => e.ValueKind.ToString(),
    };
}
