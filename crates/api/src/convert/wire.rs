//! Katib's `GetSuggestionsRequest` read in place. A request carries the experiment's whole
//! history; prost would make some 20 strings and vectors of each trial (about 12 million
//! instructions for 1,000 trials, most of a call's latency) only for the conversion to
//! parse the values and drop them. Here the request's bytes are kept and its trials indexed
//! by byte ranges, and the conversion reads values where they lie.
//!
//! The reader covers the protobuf that prost accepts, for the fields the schema declares:
//! each field as prost reads it (the last value of a singular field, repeated message
//! fields merged, unknown fields skipped, every string checked for UTF-8). Anything it is
//! not sure of (groups, a known field with a wrong wire type, 10-byte varints, bytes that
//! are not protobuf at all) makes it give up, and the request is decoded by prost instead:
//! prost's answer, and its error message, stay the reference.

use super::{ConvertError, err, trial_status};
use crate::katib as pb;
use ferrotune_core::{Assignment, Labels, SearchSpace, TrialView};
use prost::Message;
use prost::bytes::{Buf, Bytes};
use std::collections::HashMap;
use std::sync::OnceLock;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};

/// Where a field's bytes lie in the request, as offsets.
#[derive(Debug, Default, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

/// A string field's bytes, checked to be UTF-8 when read ([`Reader::string`] is the only
/// maker besides `Default`, the empty string, as an absent field reads).
#[derive(Debug, Default, Clone, Copy)]
struct Text(Span);

/// A `{1: string, 2: string}` message: `ParameterAssignment`, `Metric` and a map entry.
type Pair = (Text, Text);

/// One trial as indexes into the request's bytes and, once [`WireSuggestionsRequest::read_trials`]
/// has read inside it, into the request's pair lists.
#[derive(Debug)]
struct WireTrial {
    /// The whole `Trial` message.
    span: Span,
    name: Text,
    /// What the trial's spec and status hold; `None` for a trial left unread (its bytes are
    /// those of a trial an earlier request's views were made from).
    inner: Option<Inner>,
    /// The index, in the [`KeptViews`] given to [`WireSuggestionsRequest::read_trials`], of
    /// the trial with this trial's bytes.
    kept: Option<u32>,
}

/// A trial's spec and status as indexes into [`Pairs`].
#[derive(Debug, Clone, Copy)]
struct Inner {
    /// `spec.parameter_assignments.assignments`.
    assignments: (u32, u32),
    /// `spec.labels`' entries in wire order (a later one wins).
    labels: (u32, u32),
    /// `status.observation.metrics`.
    metrics: (u32, u32),
    /// `status.condition`.
    condition: i32,
}

/// The `{1: string, 2: string}` messages of trials' specs and statuses, in wire order.
#[derive(Debug, Default)]
struct Pairs {
    assignments: Vec<Pair>,
    labels: Vec<Pair>,
    metrics: Vec<Pair>,
}

impl Pairs {
    /// `TrialSpec`; a second one in the same trial merges into the first, as in prost.
    fn read_trial_spec(&mut self, buf: &[u8], span: Span) -> Option<()> {
        let mut r = Reader::new(buf, span);
        while r.more() {
            let (tag, wire) = r.key()?;
            match tag {
                2 => check_objective_spec(buf, r.message(wire)?)?,
                3 => read_pairs(buf, r.message(wire)?, &mut self.assignments)?,
                4 => self.labels.push(read_pair(buf, r.message(wire)?)?),
                _ => r.skip(wire)?,
            }
        }
        Some(())
    }

    /// `TrialStatus`: the condition and the metrics (the times are only checked).
    fn read_trial_status(&mut self, buf: &[u8], span: Span, condition: &mut i32) -> Option<()> {
        let mut r = Reader::new(buf, span);
        while r.more() {
            let (tag, wire) = r.key()?;
            match tag {
                1 | 2 => drop(r.string(wire)?),
                // An int32 from a varint, truncated as prost does.
                3 => *condition = r.varint_field(wire)? as i32,
                4 => read_pairs(buf, r.message(wire)?, &mut self.metrics)?,
                _ => r.skip(wire)?,
            }
        }
        Some(())
    }
}

/// A `GetSuggestionsRequest` whose trials are read where they lie in the request's bytes.
///
/// Reading takes two steps: [`Self::read_heads`] finds the trials and their names, and
/// [`Self::read_trials`] reads inside those the caller does not already know by their bytes
/// (Katib sends an experiment's whole history with each call; reading inside 1,000 trials
/// was most of a `random` call's work).
#[derive(Debug)]
pub struct WireSuggestionsRequest {
    /// Every field but `trials`, decoded by prost (they are small); `trials` is empty.
    pub request: pb::GetSuggestionsRequest,
    bytes: Bytes,
    trials: Vec<WireTrial>,
    pairs: Pairs,
}

/// A cursor over one message's bytes, `pos..end` of the request.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

/// The most trials [`WireSuggestionsRequest::read`] makes room for ahead of reading them.
const MAX_RESERVED_TRIALS: usize = 1 << 16;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], span: Span) -> Self {
        Reader {
            buf,
            pos: span.start as usize,
            end: span.end as usize,
        }
    }

    fn more(&self) -> bool {
        self.pos < self.end
    }

    /// A varint of at most 9 bytes (prost takes 10; those are left to it).
    fn varint(&mut self) -> Option<u64> {
        let bytes = self.buf.get(self.pos..self.end)?;
        // Keys and most lengths take one byte.
        let first = *bytes.first()?;
        if first < 0x80 {
            self.pos += 1;
            return Some(u64::from(first));
        }
        let mut value = 0u64;
        for (i, &b) in bytes.iter().take(9).enumerate() {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.pos += i + 1;
                return Some(value);
            }
        }
        None
    }

    /// A field's number and wire type, as prost's `decode_key` accepts them.
    fn key(&mut self) -> Option<(u64, u8)> {
        let key = self.varint()?;
        let (tag, wire) = (key >> 3, (key & 7) as u8);
        (key <= u64::from(u32::MAX) && tag >= 1 && wire <= FIXED32).then_some((tag, wire))
    }

    /// A length-delimited field's bytes.
    fn len(&mut self) -> Option<Span> {
        let len = usize::try_from(self.varint()?).ok()?;
        let start = self.pos;
        if len > self.end - start {
            return None;
        }
        self.pos += len;
        Some(Span {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(self.pos).ok()?,
        })
    }

    /// A string field's bytes, which must be UTF-8 (prost refuses the message otherwise).
    fn string(&mut self, wire: u8) -> Option<Text> {
        if wire != LEN {
            return None;
        }
        let span = self.len()?;
        utf8(&self.buf[span.start as usize..span.end as usize]).then_some(Text(span))
    }

    /// An embedded message's bytes.
    fn message(&mut self, wire: u8) -> Option<Span> {
        if wire != LEN {
            return None;
        }
        self.len()
    }

    /// A varint field (an enum's or an int's value).
    fn varint_field(&mut self, wire: u8) -> Option<u64> {
        if wire != VARINT {
            return None;
        }
        self.varint()
    }

    /// Skips an unknown field, as prost does; groups are left to prost.
    fn skip(&mut self, wire: u8) -> Option<()> {
        let n = match wire {
            VARINT => return self.varint().map(drop),
            FIXED64 => 8,
            LEN => return self.len().map(drop),
            FIXED32 => 4,
            _ => return None,
        };
        if n > self.end - self.pos {
            return None;
        }
        self.pos += n;
        Some(())
    }
}

impl WireSuggestionsRequest {
    /// Reads a request whole, or `None` when prost should decode it instead (see the
    /// module's documentation): then prost's result, error included, is the request's.
    pub fn read(bytes: Bytes) -> Option<Self> {
        let mut r = Self::read_heads(bytes)?;
        r.read_trials(None)?;
        Some(r)
    }

    /// Reads a request but for what lies inside its trials (each trial's name is read),
    /// or `None` when prost should decode it instead. [`Self::read_trials`] reads the rest.
    pub fn read_heads(bytes: Bytes) -> Option<Self> {
        let len = u32::try_from(bytes.len()).ok()?;
        let mut trials = Vec::new();
        // The fields other than `trials`, key and value as they came, for prost.
        let mut rest = Vec::new();
        let mut r = Reader::new(&bytes, Span { start: 0, end: len });
        while r.more() {
            let at = r.pos;
            let (tag, wire) = r.key()?;
            if tag == 2 {
                let span = r.message(wire)?;
                trials.push(WireTrial {
                    span,
                    name: read_head(&bytes, span)?,
                    inner: None,
                    kept: None,
                });
                if trials.len() == 1 {
                    // Room for as many more trials as the first one's size says (bounded:
                    // the first trial may be tiny and the rest something else).
                    let more = (r.end - r.pos) / (r.pos - at).max(1) + 1;
                    trials.reserve(more.min(MAX_RESERVED_TRIALS));
                }
            } else {
                r.skip(wire)?;
                rest.extend_from_slice(&bytes[at..r.pos]);
            }
        }
        Some(WireSuggestionsRequest {
            request: pb::GetSuggestionsRequest::decode(rest.as_slice()).ok()?,
            bytes,
            trials,
            pairs: Pairs::default(),
        })
    }

    /// Reads inside every trial but those whose bytes are those of a trial in `kept` (the
    /// views of an earlier request of the experiment): they were read before, and are left
    /// unread, each with the index of its twin in `kept` for [`Self::trial_views_reusing`].
    /// `None` when prost should decode the request instead.
    pub fn read_trials(&mut self, kept: Option<&KeptViews>) -> Option<()> {
        // Katib lists an experiment's trials in the same order call after call, new ones
        // among them: the kept trial after the last one found is tried first. Once as many
        // trials have been found as were kept, the rest are new ones (or trials given
        // twice, whose twins' views are taken): no lookup by name, which would make the
        // name map for a history that only grew at its end.
        let mut next = 0;
        let mut found = 0;
        let mut read = 0;
        for k in 0..self.trials.len() {
            let t = &self.trials[k];
            let twin = kept.and_then(|kept| {
                let message = self.span(t.span);
                match kept.messages.get(next) {
                    Some(m) if m == message => Some(next),
                    _ if found >= kept.messages.len() => None,
                    _ => kept.find(self.raw(t.name), message),
                }
            });
            if let Some(twin) = twin {
                self.trials[k].kept = Some(twin as u32);
                next = twin + 1;
                found += 1;
                continue;
            }
            let inner = read_inner(&mut self.pairs, &self.bytes, t.span)?;
            self.trials[k].inner = Some(inner);
            read += 1;
            if read == 1 && kept.is_none() {
                // Room for the rest of the trials, if they are like this one (with kept
                // views, most of them are left unread).
                let more = self.trials.len() - k;
                let p = &mut self.pairs;
                p.assignments.reserve(more * p.assignments.len());
                p.labels.reserve(more * p.labels.len());
                p.metrics.reserve(more * p.metrics.len());
            }
        }
        Some(())
    }

    /// The request's bytes, as they came.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    fn text(&self, t: Text) -> &str {
        let bytes = self.raw(t);
        // SAFETY: a `Text` is made by `Reader::string` only after `utf8` accepted these
        // very bytes of `self.bytes` (which nothing changes), or is empty. Checking again
        // would be some 8,000 `str::from_utf8` calls for 1,000 trials, a tenth of the
        // conversion's time.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    fn raw(&self, t: Text) -> &[u8] {
        self.span(t.0)
    }

    /// The bytes of `s` (empty if `s` lies outside them, which no reader makes).
    fn span(&self, s: Span) -> &[u8] {
        self.bytes
            .get(s.start as usize..s.end as usize)
            .unwrap_or_default()
    }

    fn slice(&self, s: Span) -> Bytes {
        self.bytes.slice(s.start as usize..s.end as usize)
    }

    /// The number of trials in the request.
    pub fn trial_count(&self) -> usize {
        self.trials.len()
    }

    /// The trials as the history algorithms learn from: the same views, and the same
    /// errors for the same trials, as [`super::take_trial_views`] gives for the request
    /// prost decodes.
    pub fn trial_views(
        &self,
        space: &SearchSpace,
        objective_metric: &str,
    ) -> Result<Vec<TrialView>, ConvertError> {
        let mut views = Vec::with_capacity(self.trials.len());
        for (i, t) in self.trials.iter().enumerate() {
            views.push(self.trial_view(i, t, space, objective_metric)?);
        }
        Ok(views)
    }

    /// [`Self::trial_views`], moving over from `kept` the view of each trial whose message is
    /// byte for byte one that `kept` was made from: the same bytes, the same space and the
    /// same objective metric make the same view, so only new and changed trials are
    /// converted. `kept` must be the views given to [`Self::read_trials`], made for this
    /// `space` and `objective_metric`.
    pub fn trial_views_reusing(
        &self,
        space: &SearchSpace,
        objective_metric: &str,
        kept: &mut KeptViews,
    ) -> Result<Vec<TrialView>, ConvertError> {
        let mut views = Vec::with_capacity(self.trials.len());
        for (i, t) in self.trials.iter().enumerate() {
            // A trial given twice finds its twin's view taken, and is converted.
            let reused = t
                .kept
                .and_then(|k| kept.views.get_mut(k as usize))
                .and_then(Option::take);
            views.push(match reused {
                Some(view) => view,
                None => self.trial_view(i, t, space, objective_metric)?,
            });
        }
        Ok(views)
    }

    /// Keeps `views`, this request's trials' views in order (as [`Self::trial_views`] made
    /// them), for [`Self::trial_views_reusing`] on a later request.
    pub fn keep_views(&self, views: Vec<TrialView>) -> KeptViews {
        debug_assert_eq!(views.len(), self.trials.len());
        KeptViews {
            names: self.trials.iter().map(|t| self.slice(t.name.0)).collect(),
            messages: self.trials.iter().map(|t| self.slice(t.span)).collect(),
            by_name: OnceLock::new(),
            views: views.into_iter().map(Some).collect(),
        }
    }

    /// The request's size in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    fn trial_view(
        &self,
        i: usize,
        t: &WireTrial,
        space: &SearchSpace,
        objective_metric: &str,
    ) -> Result<TrialView, ConvertError> {
        let at = || format!("trials[{i}]");
        // A trial left unread has the bytes of one read before, so it reads now as it did.
        let mut own = Pairs::default();
        let (inner, pairs) = match t.inner {
            Some(inner) => (inner, &self.pairs),
            None => match read_inner(&mut own, &self.bytes, t.span) {
                Some(inner) => (inner, &own),
                None => return Err(err(at(), "could not be read as it was before")),
            },
        };
        let assignments =
            &pairs.assignments[inner.assignments.0 as usize..inner.assignments.1 as usize];
        let mut parameters = Vec::with_capacity(space.parameters.len());
        // Katib lists the assignments in the parameters' order: while it does, parameter
        // k's first assignment is the k-th (names are unique), found without a search.
        let mut in_order = true;
        for (k, p) in space.parameters.iter().enumerate() {
            let named = |a: &Pair| self.raw(a.0) == p.name.as_bytes();
            in_order = in_order && assignments.get(k).is_some_and(named);
            let found = if in_order {
                Some(k)
            } else {
                assignments.iter().position(named)
            };
            let Some(j) = found else {
                return Err(err(
                    format!("{}.spec.parameterAssignments", at()),
                    format!("has no value for parameter {:?}", p.name),
                ));
            };
            let value = self.text(assignments[j].1);
            let v = p.domain.parse(value).ok_or_else(|| {
                err(
                    format!("{}.spec.parameterAssignments.assignments[{j}].value", at()),
                    format!(
                        "{value:?} is not a value of parameter {:?}'s feasible space",
                        p.name
                    ),
                )
            })?;
            parameters.push((p.name.clone(), v));
        }
        let mut objective = None;
        let metrics = &pairs.metrics[inner.metrics.0 as usize..inner.metrics.1 as usize];
        for (j, m) in metrics.iter().enumerate() {
            if self.raw(m.0) == objective_metric.as_bytes() {
                let value = self.text(m.1);
                let v = value.trim().parse::<f64>().map_err(|_| {
                    err(
                        format!("{}.status.observation.metrics[{j}].value", at()),
                        format!("{value:?} is not a number"),
                    )
                })?;
                objective = Some(v);
            }
        }
        let mut labels = Labels::new();
        for &(k, v) in &pairs.labels[inner.labels.0 as usize..inner.labels.1 as usize] {
            labels.insert(self.text(k).to_string(), self.text(v).to_string());
        }
        Ok(TrialView {
            name: self.text(t.name).to_string(),
            parameters: Assignment(parameters),
            status: trial_status(inner.condition),
            objective,
            objectives: Vec::new(),
            intermediate: Vec::new(),
            labels,
        })
    }
}

/// Whether `b` is UTF-8. Katib's strings are ASCII, checked 8 bytes at a time here: a
/// request holds some 20 strings a trial, mostly short, for which `str::from_utf8`'s own
/// checks cost more than the bytes.
fn utf8(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(8);
    let mut high = 0u64;
    for c in &mut chunks {
        high |= u64::from_le_bytes(c.try_into().unwrap_or_default());
    }
    for &x in chunks.remainder() {
        high |= u64::from(x);
    }
    high & 0x8080_8080_8080_8080 == 0 || std::str::from_utf8(b).is_ok()
}

/// A `Trial`'s name (the last one, as in prost), its other fields only found: their
/// insides are left to [`read_inner`].
fn read_head(buf: &[u8], span: Span) -> Option<Text> {
    let mut name = Text::default();
    let mut r = Reader::new(buf, span);
    while r.more() {
        let (tag, wire) = r.key()?;
        match tag {
            1 => name = r.string(wire)?,
            2 | 3 => drop(r.message(wire)?),
            _ => r.skip(wire)?,
        }
    }
    Some(name)
}

/// A `Trial`'s spec and status (whose head [`read_head`] read), their pairs added to `pairs`.
fn read_inner(pairs: &mut Pairs, buf: &[u8], span: Span) -> Option<Inner> {
    let starts = (
        pairs.assignments.len() as u32,
        pairs.labels.len() as u32,
        pairs.metrics.len() as u32,
    );
    let mut condition = 0;
    let mut r = Reader::new(buf, span);
    while r.more() {
        let (tag, wire) = r.key()?;
        match tag {
            2 => pairs.read_trial_spec(buf, r.message(wire)?)?,
            3 => pairs.read_trial_status(buf, r.message(wire)?, &mut condition)?,
            _ => r.skip(wire)?,
        }
    }
    Some(Inner {
        assignments: (starts.0, pairs.assignments.len() as u32),
        labels: (starts.1, pairs.labels.len() as u32),
        metrics: (starts.2, pairs.metrics.len() as u32),
        condition,
    })
}

/// The pairs of a message whose field 1 is a list of them (`ParameterAssignments`,
/// `Observation`), added to `out`.
fn read_pairs(buf: &[u8], span: Span, out: &mut Vec<Pair>) -> Option<()> {
    let mut r = Reader::new(buf, span);
    while r.more() {
        let (tag, wire) = r.key()?;
        match tag {
            1 => out.push(read_pair(buf, r.message(wire)?)?),
            _ => r.skip(wire)?,
        }
    }
    Some(())
}

/// A `{1: string, 2: string}` message (the last of each field wins, as in prost).
fn read_pair(buf: &[u8], span: Span) -> Option<Pair> {
    let mut pair = (Text::default(), Text::default());
    let mut r = Reader::new(buf, span);
    while r.more() {
        let (tag, wire) = r.key()?;
        match tag {
            1 => pair.0 = r.string(wire)?,
            2 => pair.1 = r.string(wire)?,
            _ => r.skip(wire)?,
        }
    }
    Some(pair)
}

/// A trial's `ObjectiveSpec` (Katib copies the experiment's into every trial): nothing of
/// it is used, but prost would refuse a bad one, so it is checked as prost reads it.
fn check_objective_spec(buf: &[u8], span: Span) -> Option<()> {
    let mut r = Reader::new(buf, span);
    while r.more() {
        let (tag, wire) = r.key()?;
        match tag {
            1 => drop(r.varint_field(wire)?),
            2 if wire == FIXED64 => r.skip(wire)?,
            2 => return None,
            3 | 4 => drop(r.string(wire)?),
            _ => r.skip(wire)?,
        }
    }
    Some(())
}

/// Trials' views by their messages' bytes, from an earlier request of an experiment (see
/// [`WireSuggestionsRequest::trial_views_reusing`]). It holds that request's bytes.
#[derive(Debug, Default)]
pub struct KeptViews {
    /// Each trial's name.
    names: Vec<Bytes>,
    /// Each trial's whole message.
    messages: Vec<Bytes>,
    /// A trial's index by its name (a name given twice: its last trial), made when first
    /// needed: a request whose trials come in the kept order needs none.
    by_name: OnceLock<HashMap<Bytes, usize>>,
    /// Each trial's view, until a later request takes it.
    views: Vec<Option<TrialView>>,
}

impl KeptViews {
    /// The index of the trial named `name` whose message was `message`.
    fn find(&self, name: &[u8], message: &[u8]) -> Option<usize> {
        let by_name = self.by_name.get_or_init(|| {
            let mut by_name = HashMap::with_capacity(self.names.len());
            for (k, name) in self.names.iter().enumerate() {
                by_name.insert(name.clone(), k);
            }
            by_name
        });
        by_name
            .get(name)
            .copied()
            .filter(|&k| self.messages[k] == message)
    }
}

/// A `GetSuggestions` request as the server takes it: read in place (its trials' insides
/// still to read, [`WireSuggestionsRequest::read_trials`]), or decoded by prost when the
/// in-place reader leaves it to prost.
#[derive(Debug)]
pub enum GetSuggestionsCall {
    InPlace(WireSuggestionsRequest),
    Decoded(pb::GetSuggestionsRequest),
}

/// The gRPC codec of `GetSuggestions`: requests as [`GetSuggestionsCall`], replies encoded by
/// prost as the generated service encodes them.
#[derive(Debug, Default, Clone, Copy)]
pub struct GetSuggestionsCodec;

/// [`GetSuggestionsCodec`]'s decoder.
#[derive(Debug, Default, Clone, Copy)]
pub struct GetSuggestionsDecoder;

impl Codec for GetSuggestionsCodec {
    type Encode = pb::GetSuggestionsReply;
    type Decode = GetSuggestionsCall;
    type Encoder = tonic_prost::ProstEncoder<pb::GetSuggestionsReply>;
    type Decoder = GetSuggestionsDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        GetSuggestionsDecoder
    }
}

impl Decoder for GetSuggestionsDecoder {
    type Item = GetSuggestionsCall;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        // The message's bytes, without a copy (tonic's buffer is split off).
        let bytes = buf.copy_to_bytes(buf.remaining());
        if let Some(r) = WireSuggestionsRequest::read_heads(bytes.clone()) {
            return Ok(Some(GetSuggestionsCall::InPlace(r)));
        }
        // tonic-prost's mapping of a decode error: INTERNAL with prost's message.
        pb::GetSuggestionsRequest::decode(bytes)
            .map(|r| Some(GetSuggestionsCall::Decoded(r)))
            .map_err(|e| Status::internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::space;
    use super::*;

    fn request(trials: usize) -> pb::GetSuggestionsRequest {
        let objective = pb::ObjectiveSpec {
            r#type: pb::ObjectiveType::Minimize as i32,
            goal: 0.5,
            objective_metric_name: "loss".into(),
            additional_metric_names: vec!["acc".into()],
        };
        pb::GetSuggestionsRequest {
            experiment: Some(pb::Experiment {
                name: "exp".into(),
                spec: Some(pb::ExperimentSpec {
                    objective: Some(objective.clone()),
                    max_trial_count: 9,
                    ..Default::default()
                }),
            }),
            trials: (0..trials)
                .map(|i| pb::Trial {
                    name: format!("t{i}"),
                    spec: Some(pb::TrialSpec {
                        objective: Some(objective.clone()),
                        parameter_assignments: Some(pb::trial_spec::ParameterAssignments {
                            assignments: [("a", "0.25"), ("b", "0.5")]
                                .iter()
                                .map(|(n, v)| pb::ParameterAssignment {
                                    name: n.to_string(),
                                    value: v.to_string(),
                                })
                                .collect(),
                        }),
                        labels: [("k".to_string(), format!("v{i}"))].into(),
                    }),
                    status: Some(pb::TrialStatus {
                        start_time: "2026-11-24T00:00:00Z".into(),
                        completion_time: "2026-11-24T00:01:00Z".into(),
                        condition: (i % 8) as i32,
                        observation: Some(pb::Observation {
                            metrics: vec![
                                pb::Metric {
                                    name: "acc".into(),
                                    value: "x".into(),
                                },
                                pb::Metric {
                                    name: "loss".into(),
                                    value: format!("{}", i as f64 / 3.0),
                                },
                            ],
                        }),
                    }),
                })
                .collect(),
            current_request_number: 2,
            total_request_number: 7,
        }
    }

    type Views = Result<Vec<TrialView>, ConvertError>;

    /// What the server answers for `bytes`: through the in-place reader when it takes
    /// them, and through prost (the reference) always.
    fn both(bytes: &[u8]) -> (Option<Views>, Result<Views, String>) {
        let reference = pb::GetSuggestionsRequest::decode(bytes)
            .map(|mut r| take_views(&mut r))
            .map_err(|e| e.to_string());
        let in_place = WireSuggestionsRequest::read(Bytes::copy_from_slice(bytes)).map(|w| {
            let mut prost = pb::GetSuggestionsRequest::decode(bytes)
                .expect("the in-place reader took bytes prost refuses");
            prost.trials.clear();
            assert_eq!(w.request, prost, "the fields besides trials differ");
            w.trial_views(&space(), "loss")
        });
        (in_place, reference)
    }

    fn take_views(r: &mut pb::GetSuggestionsRequest) -> Views {
        super::super::take_trial_views(&mut r.trials, &space(), "loss")
    }

    /// Whether `kept` still holds the view of its trial `k` (none was reused from it).
    fn unused(kept: &KeptViews, k: usize) -> bool {
        kept.views[k].is_some()
    }

    /// The trials `w` left unread (their bytes were kept).
    fn unread(w: &WireSuggestionsRequest) -> Vec<usize> {
        (0..w.trial_count())
            .filter(|&i| w.trials[i].inner.is_none())
            .collect()
    }

    /// `r` read as the server reads it: the trials with bytes kept in `kept` left unread.
    fn read_with(r: &pb::GetSuggestionsRequest, kept: &KeptViews) -> WireSuggestionsRequest {
        let mut w = WireSuggestionsRequest::read_heads(Bytes::from(r.encode_to_vec())).unwrap();
        w.read_trials(Some(kept)).unwrap();
        w
    }

    #[test]
    fn kept_views_are_reused_for_trials_with_the_same_bytes_only() {
        let read = |r: &pb::GetSuggestionsRequest| {
            WireSuggestionsRequest::read(Bytes::from(r.encode_to_vec())).unwrap()
        };
        let first = request(8);
        let w = read(&first);
        let mut kept = w.keep_views(w.trial_views(&space(), "loss").unwrap());

        // The next call: trial 2's loss changed, a new trial before trial 5, trial 6 gone,
        // trial 7 now named as trial 0 was, trial 1 listed twice.
        let mut next = first.clone();
        next.trials[2].status.as_mut().unwrap().observation = Some(pb::Observation {
            metrics: vec![pb::Metric {
                name: "loss".into(),
                value: "0.125".into(),
            }],
        });
        next.trials.remove(6);
        next.trials[6].name = "t0".into();
        let mut new = first.trials[4].clone();
        new.name = "t-new".into();
        next.trials.insert(5, new);
        next.trials.push(first.trials[1].clone());
        let w = read_with(&next, &kept);
        // next's trials: t0, t1, t2', t3, t4, t-new, t5, "t0" (was t7), t1 again.
        assert_eq!(unread(&w), [0, 1, 3, 4, 6, 8]);
        let views = w.trial_views_reusing(&space(), "loss", &mut kept).unwrap();
        assert_eq!(views, read(&next).trial_views(&space(), "loss").unwrap());
        // Reused: trials 0, 1 (once), 3, 4 and 5; converted: the changed 2, the new one,
        // the renamed 7 and the second 1 (unread: it is read now, as it was before);
        // trial 6 was not asked for.
        let reused: Vec<usize> = (0..8).filter(|&k| !unused(&kept, k)).collect();
        assert_eq!(reused, [0, 1, 3, 4, 5]);
        // Views made again for another space read the unread trials as they were read.
        let mut other = space();
        other.parameters.reverse();
        let again = w.trial_views(&other, "loss").unwrap();
        assert_eq!(again, read(&next).trial_views(&other, "loss").unwrap());

        // Kept again, from the views just made: the same request reuses every trial, names
        // given twice included (found in the kept order).
        let mut kept = w.keep_views(views);
        let w = read_with(&next, &kept);
        let views = w.trial_views_reusing(&space(), "loss", &mut kept).unwrap();
        assert_eq!(views, read(&next).trial_views(&space(), "loss").unwrap());
        assert!((0..9).all(|k| !unused(&kept, k)));
        assert!(
            kept.by_name.get().is_none(),
            "a lookup by name for trials in order"
        );

        // The history grown at its end, as Katib's grows: every kept trial found in order,
        // the new one read, and no name map made.
        let mut grown_kept = w.keep_views(views.clone());
        let mut grown = next.clone();
        let mut newer = first.trials[2].clone();
        newer.name = "t-newer".into();
        grown.trials.push(newer);
        let g = read_with(&grown, &grown_kept);
        assert_eq!(unread(&g), (0..9).collect::<Vec<_>>());
        assert!(
            grown_kept.by_name.get().is_none(),
            "a lookup by name for a history grown at its end"
        );
        let views_grown = g
            .trial_views_reusing(&space(), "loss", &mut grown_kept)
            .unwrap();
        assert_eq!(
            views_grown,
            read(&grown).trial_views(&space(), "loss").unwrap()
        );

        // The same trials in another order: each found by its name.
        let mut kept = w.keep_views(views);
        let mut shuffled = next.clone();
        shuffled.trials.reverse();
        let w = read_with(&shuffled, &kept);
        let views = w.trial_views_reusing(&space(), "loss", &mut kept).unwrap();
        assert_eq!(
            views,
            read(&shuffled).trial_views(&space(), "loss").unwrap()
        );
        // Each name's last trial was found ("t0" is trial 7's, "t1" trial 8's), and trial 0
        // (the other "t0", whose name finds trial 7's other bytes) converted again.
        let unused: Vec<usize> = (0..9).filter(|&k| unused(&kept, k)).collect();
        assert_eq!(unused, [0, 1]);

        // A bad trial that was good before: the same error as without kept views.
        let mut kept = w.keep_views(views);
        let mut bad = shuffled.clone();
        bad.trials[3].status.as_mut().unwrap().observation = Some(pb::Observation {
            metrics: vec![pb::Metric {
                name: "loss".into(),
                value: "n/a".into(),
            }],
        });
        let w2 = read_with(&bad, &kept);
        let e = w2
            .trial_views_reusing(&space(), "loss", &mut kept)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            read(&bad)
                .trial_views(&space(), "loss")
                .unwrap_err()
                .to_string()
        );
    }

    #[test]
    fn a_request_reads_in_place_as_prost_decodes_it() {
        let bytes = request(20).encode_to_vec();
        let (in_place, reference) = both(&bytes);
        let views = in_place.expect("a plain request is read in place");
        assert_eq!(views, reference.unwrap());
        assert_eq!(views.unwrap().len(), 20);
    }

    #[test]
    fn merged_and_unknown_fields_read_as_prost_reads_them() {
        let r = request(1);
        let spec = r.trials[0].spec.clone().unwrap();
        let mut trial = r.trials[0].encode_to_vec();
        // A second spec (merged: more assignments, a label overwritten), a second name
        // (the last wins), unknown fields of each wire type but groups.
        let mut spec2 = spec.clone();
        spec2.labels = [("k".to_string(), "w".to_string())].into();
        spec2.parameter_assignments.as_mut().unwrap().assignments[0].value = "0.75".into();
        prost::encoding::message::encode(2, &spec2, &mut trial);
        prost::encoding::string::encode(1, &"renamed".to_string(), &mut trial);
        prost::encoding::uint64::encode(9, &300, &mut trial);
        prost::encoding::fixed64::encode(10, &1, &mut trial);
        prost::encoding::fixed32::encode(11, &1, &mut trial);
        prost::encoding::bytes::encode(12, &vec![0xff, 0xfe], &mut trial);
        let mut bytes = Vec::new();
        prost::encoding::bytes::encode(2, &trial, &mut bytes);
        prost::encoding::int32::encode(4, &3, &mut bytes);
        let (in_place, reference) = both(&bytes);
        let views = in_place.expect("read in place").unwrap();
        assert_eq!(Ok(views.clone()), reference.unwrap());
        assert_eq!(views[0].name, "renamed");
        assert_eq!(views[0].labels.get("k").map(String::as_str), Some("w"));
    }

    #[test]
    fn bad_trials_give_the_same_errors() {
        let mut r = request(3);
        r.trials[1].spec.as_mut().unwrap().parameter_assignments = None;
        r.trials[2]
            .status
            .as_mut()
            .unwrap()
            .observation
            .as_mut()
            .unwrap()
            .metrics[1]
            .value = "n/a".into();
        let (in_place, reference) = both(&r.encode_to_vec());
        assert_eq!(in_place.unwrap(), reference.unwrap());
        let mut r = request(3);
        r.trials[2]
            .status
            .as_mut()
            .unwrap()
            .observation
            .as_mut()
            .unwrap()
            .metrics[1]
            .value = "n/a".into();
        let (in_place, reference) = both(&r.encode_to_vec());
        let e = in_place.unwrap().unwrap_err();
        assert_eq!(Err(e.clone()), reference.unwrap());
        assert_eq!(e.field, "trials[2].status.observation.metrics[1].value");
    }

    #[test]
    fn what_the_reader_takes_prost_takes_alike() {
        // Every byte of a request changed in turn, and random changes: whatever the reader
        // takes, prost decodes to the same request and the same views (or errors).
        let bytes = request(3).encode_to_vec();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut taken = 0;
        for round in 0..20_000 {
            let mut b = bytes.clone();
            for _ in 0..1 + round % 3 {
                let i = next() as usize % b.len();
                b[i] = match next() % 4 {
                    0 => b[i] ^ (1 << (next() % 8)),
                    1 => next() as u8,
                    2 => b[i].wrapping_add(1),
                    _ => b[i].wrapping_sub(1),
                };
            }
            if round % 5 == 0 {
                b.truncate(next() as usize % b.len());
            }
            let (in_place, reference) = both(&b);
            if let Some(views) = in_place {
                taken += 1;
                assert_eq!(Ok(views), reference, "bytes {b:?}");
            }
        }
        assert!(taken > 1000, "only {taken} changed requests read in place");
    }
}
