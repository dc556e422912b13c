//! 4. Receivers; `Self` in the signature and the body.

use std::pin::Pin;
use std::sync::Arc;

use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{assert_calls, setup};

#[derive(Debug, Clone, Default, PartialEq)]
struct Account {
    balance: u64,
}

impl Account {
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn open(balance: u64) -> Self {
        Self { balance }
    }

    #[counted]
    #[traced]
    #[timed]
    #[in_flight]
    fn balance(&self) -> u64 {
        self.balance
    }

    #[in_flight]
    #[counted]
    #[timed]
    #[traced]
    fn deposit(&mut self, amount: u64) -> &mut Self {
        self.balance += amount;
        self
    }

    #[timed]
    #[counted]
    #[in_flight]
    #[traced]
    fn close(self) -> u64 {
        self.balance
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn drain(mut self) -> (u64, Self) {
        let all = self.balance;
        self.balance = 0;
        (all, self)
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn boxed(self: Box<Self>) -> u64 {
        self.balance
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn shared(self: Arc<Self>) -> usize {
        Arc::strong_count(&self)
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn pinned(self: Pin<&mut Self>) -> u64 {
        let this = self.get_mut();
        this.balance += 1;
        this.balance
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn merge(self, other: Self) -> Self {
        let merged = Self::open(self.balance + other.balance);
        Self { ..merged }
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn withdraw(&self, amount: u64) -> Result<Self, String> {
        match self.balance.checked_sub(amount) {
            Some(balance) => Ok(Self { balance }),
            None => Err(format!("{amount} is more than {}", self.balance)),
        }
    }
}

#[test]
fn every_receiver_and_self() {
    setup();
    let mut account = Account::open(10);
    assert_eq!(account.balance(), 10);
    assert_eq!(account.deposit(5).deposit(1).balance, 16);
    assert_eq!(account.clone().close(), 16);
    let (all, empty) = account.clone().drain();
    assert_eq!((all, empty.balance), (16, 0));
    assert_eq!(Box::new(account.clone()).boxed(), 16);
    let arc = Arc::new(account.clone());
    let other = Arc::clone(&arc);
    assert_eq!(arc.shared(), 2);
    drop(other);
    let mut pinned = account.clone();
    assert_eq!(Pin::new(&mut pinned).pinned(), 17);
    assert_eq!(
        account.clone().merge(Account::open(4)),
        Account { balance: 20 }
    );
    assert_eq!(account.withdraw(6), Ok(Account { balance: 10 }));
    assert!(account.withdraw(100).is_err());

    assert_calls("Account::open", &[("ok", 3)]); // one direct, one in `merge`, one in the arg
    assert_calls("Account::balance", &[("ok", 1)]);
    assert_calls("Account::deposit", &[("ok", 2)]);
    assert_calls("Account::close", &[("ok", 1)]);
    assert_calls("Account::drain", &[("ok", 1)]);
    assert_calls("Account::boxed", &[("ok", 1)]);
    assert_calls("Account::shared", &[("ok", 1)]);
    assert_calls("Account::pinned", &[("ok", 1)]);
    assert_calls("Account::merge", &[("ok", 1)]);
    assert_calls("Account::withdraw", &[("ok", 1), ("error", 1)]);
}
