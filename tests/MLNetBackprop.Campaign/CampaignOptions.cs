using System.Globalization;

namespace MLNetBackprop.Campaign;

/// <summary>The command line: <c>[--seed N] [--quick] [--out file.md] [--only a,b] [--timeout s] [--verbose]</c>, and
/// the internal <c>--child name --work folder --from k</c> of a category's child process.</summary>
public sealed class CampaignOptions
{
    /// <summary>The seed; the same seed gives the same trials. Default 1.</summary>
    public int Seed { get; private set; } = 1;

    /// <summary>The short run (under two minutes).</summary>
    public bool Quick { get; private set; }

    /// <summary>Also write the tables to this markdown file.</summary>
    public string? Out { get; private set; }

    /// <summary>Run only these categories (names as in <see cref="Category.Name"/>).</summary>
    public HashSet<string>? Only { get; private set; }

    /// <summary>The per-trial timeout. Default 60 s.</summary>
    public TimeSpan Timeout { get; private set; } = TimeSpan.FromSeconds(60);

    /// <summary>Keep the scratch folder (each category's child log and every trial's result in trials.jsonl).</summary>
    public bool Keep { get; private set; }

    /// <summary>Echo the children's progress lines.</summary>
    public bool Verbose { get; private set; }

    /// <summary>In a child: the category (or the internal <c>save-loop</c>) to run.</summary>
    public string? Child { get; private set; }

    /// <summary>In a child: the category's scratch folder.</summary>
    public string? Work { get; private set; }

    /// <summary>In a child: the first trial to run (after a crash or hang of the one before).</summary>
    public int From { get; private set; }

    /// <summary>In the save loop: the model to save and the file to save it to.</summary>
    public string? Model { get; private set; }

    /// <summary>In the save loop: the file saved to, again and again.</summary>
    public string? Target { get; private set; }

    /// <summary>Parses the arguments.</summary>
    /// <exception cref="ArgumentException">An unknown or incomplete argument.</exception>
    public static CampaignOptions Parse(string[] args)
    {
        var o = new CampaignOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int() => int.Parse(Value(), CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--seed": o.Seed = Int(); break;
                case "--quick": o.Quick = true; break;
                case "--out": o.Out = Value(); break;
                case "--only": o.Only = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]; break;
                case "--timeout": o.Timeout = TimeSpan.FromSeconds(double.Parse(Value(), CultureInfo.InvariantCulture)); break;
                case "--verbose": o.Verbose = true; break;
                case "--keep": o.Keep = true; break;
                case "--child": o.Child = Value(); break;
                case "--work": o.Work = Value(); break;
                case "--from": o.From = Int(); break;
                case "--model": o.Model = Value(); break;
                case "--target": o.Target = Value(); break;
                default: throw new ArgumentException($"Unknown argument {args[i]}.");
            }
        }
        return o;
    }

    /// <summary>The usage line.</summary>
    public const string Usage =
        "usage: dotnet run -c Release --project tests/MLNetBackprop.Campaign -- [--seed N] [--quick] [--out file.md] " +
        "[--only fit,predict,files,kill,serving,cancel] [--timeout seconds] [--verbose] [--keep]";
}
