"""The hardware and its cost: architectures and mappings (validated data), the one set of
cost rules (cycles, occupancy, spills, traffic, energy, FPGA resources) and the
bit-accurate golden models of the numeric units.

>>> from einsum import parse_text
>>> gemm = parse_text("Y[n,t] = X[k,t] * W[k,n]", name="linear")
>>> mapping = mapping_from_dict({"name": "os", "stages": [["Y"]],
...     "bindings": {"Y": {"unit": "array2d", "spatial": ["N", "T"]}}})
>>> evaluate(gemm, architecture("fusemax"), mapping, {"K": 768, "N": 768, "T": 4096}).cycles
36864
"""

from __future__ import annotations

from ._arch import (
    Architecture,
    Buffer,
    Device,
    Dram,
    FpgaCost,
    GlobalBuffer,
    OpCost,
    Port,
    RegisterFile,
    Table,
    Unit,
    architecture,
    architecture_document,
    architecture_names,
    architecture_yaml,
    device_names,
    fpga_device,
    load_architecture,
)
from ._attention import AttentionNumerics, TiledAttention
from ._cost import (
    MAX_CYCLES,
    ComputeRows,
    EinsumReport,
    MappingError,
    MemoryEnergy,
    Plan,
    Report,
    buffer_plan,
    buffer_plans,
    buffer_reads,
    check_cycles,
    compute_rows,
    dram_cycles,
    dram_words,
    evaluate,
    evaluate_workload,
    memory_energy,
    plan_groups,
    resolved_tiles,
    stage_index,
    traffic_plan,
)
from ._encoder import ENCODER_ATTENTION, WEIGHT_NAMES, EncoderLayer
from ._exp import ExpUnit
from ._fixed import OVERFLOW, QUANTISATION, Fixed, FixedType, tally
from ._gelu import GeluUnit, gelu_erf, gelu_tanh
from ._headers import ap_types_include
from ._hls4ml import Hls4mlSoftmax
from ._layernorm import LayerNormUnit
from ._linear import LinearUnit
from ._mapping import Binding, Mapping, Stage, load_mapping, mapping_from_dict, mapping_yaml
from ._numerics import FixedNumerics
from ._reciprocal import ReciprocalUnit
from ._resources import (
    DesignResources,
    Resources,
    bram36_for_table,
    buffer_resources,
    design_resources,
    dsp_per_multiplier,
    hls_resources,
    table_luts,
    unit_resources,
)
from ._softmax import DEFAULT_SOFTMAX, OnlineSoftmax, softmax_config
from ._workload import MAX_POINTS, EinsumFacts, Operand, Workload, is_view, workload

__all__ = [
    "DEFAULT_SOFTMAX",
    "ENCODER_ATTENTION",
    "MAX_CYCLES",
    "MAX_POINTS",
    "OVERFLOW",
    "QUANTISATION",
    "WEIGHT_NAMES",
    "Architecture",
    "AttentionNumerics",
    "Binding",
    "Buffer",
    "ComputeRows",
    "DesignResources",
    "Device",
    "Dram",
    "EinsumFacts",
    "EinsumReport",
    "EncoderLayer",
    "ExpUnit",
    "Fixed",
    "FixedNumerics",
    "FixedType",
    "FpgaCost",
    "GeluUnit",
    "GlobalBuffer",
    "Hls4mlSoftmax",
    "LayerNormUnit",
    "LinearUnit",
    "Mapping",
    "MappingError",
    "MemoryEnergy",
    "OnlineSoftmax",
    "OpCost",
    "Operand",
    "Plan",
    "Port",
    "ReciprocalUnit",
    "RegisterFile",
    "Report",
    "Resources",
    "Stage",
    "Table",
    "TiledAttention",
    "Unit",
    "Workload",
    "ap_types_include",
    "architecture",
    "architecture_document",
    "architecture_names",
    "architecture_yaml",
    "bram36_for_table",
    "buffer_plan",
    "buffer_plans",
    "buffer_reads",
    "buffer_resources",
    "check_cycles",
    "compute_rows",
    "design_resources",
    "device_names",
    "dram_cycles",
    "dram_words",
    "dsp_per_multiplier",
    "evaluate",
    "evaluate_workload",
    "fpga_device",
    "gelu_erf",
    "gelu_tanh",
    "hls_resources",
    "is_view",
    "load_architecture",
    "load_mapping",
    "mapping_from_dict",
    "mapping_yaml",
    "memory_energy",
    "plan_groups",
    "resolved_tiles",
    "softmax_config",
    "stage_index",
    "table_luts",
    "tally",
    "traffic_plan",
    "unit_resources",
    "workload",
]
